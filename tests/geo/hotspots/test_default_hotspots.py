"""One default hot-spot map (issue 15): the WMS ``hotspots`` layer, the OGC collection
``hotspots`` and the risk model's "touches a hot-spot" are the same Gi* cells, computed
in the analysis CRS the settings name (the WMS used EPSG:32638 whatever ANALYSIS_CRS)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text

from app.extensions import db
from geo import queries
from geo.hotspots import inputs, pipeline
from geo.layers import INCIDENTS, REGIONS
from geo.maps import hotspot_layer, ogc_features
from tests.conftest import make_app, role_headers

OTHER_UTM = 32637  # UTM 37N: also metric, also covers western Georgia


def _nonzero(features: list[dict]) -> dict[str, tuple[int, int]]:
    """Hexagon (its first vertex, rounded) -> (bin, count) of the cells with a bin."""
    return {json.dumps([round(v, 6) for v in f["geometry"]["coordinates"][0][0]]):
            (int(f["properties"]["bin"]), int(f["properties"]["count"]))
            for f in features if f["properties"].get("bin")}


def test_wms_and_ogc_show_the_same_default_map(demo_app):
    app, _, _ = demo_app
    srid = app.config["ANALYSIS_SRID"]
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        ogc = ogc_features.hotspot_cells(db.session, app.config["HOTSPOT_MAX_CELLS"], srid)
        _, last = queries.layer_time_extent(db.session, INCIDENTS)
        db.session.remove()
    # The collection's window is the closed [last - 90 days, last]; the WMS's is
    # half-open, so its end is one microsecond later.
    window = (last - ogc_features.HOTSPOT_WINDOW, last + timedelta(microseconds=1))
    wms = hotspot_layer.hotspot_features(url, window, None, srid)["features"]
    assert len(_nonzero(ogc)) > 10
    assert _nonzero(wms) == _nonzero(ogc)


def test_the_wms_map_is_computed_in_the_configured_analysis_crs(demo_app, monkeypatch):
    app, _, _ = demo_app
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        start, end = db.session.execute(text(
            "SELECT max(occurred_at) - interval '120 days', max(occurred_at) "
            "FROM incidents")).one()
        extent = queries.layer_extent(db.session, REGIONS)
        selection = inputs.Selection(start=start, end=end)  # closed, as the WMS window
        expected = {srid: json.loads(pipeline.default_map(
            db.session, inputs.StudyArea(bbox=extent), selection, srid))["features"]
            for srid in (32638, OTHER_UTM)}
        db.session.remove()
    drawn = {srid: hotspot_layer.hotspot_features(url, (start, end), None, srid)["features"]
             for srid in (32638, OTHER_UTM)}
    for srid in (32638, OTHER_UTM):
        assert _nonzero(drawn[srid]) == _nonzero(expected[srid]), srid
    # Another CRS is another grid: not the same cells.
    assert set(_nonzero(drawn[32638])) != set(_nonzero(drawn[OTHER_UTM]))

    # A GetMap of an app set to another ANALYSIS_CRS draws that CRS's map.
    other = make_app(url, ANALYSIS_CRS=f"EPSG:{OTHER_UTM}", ANALYSIS_SRID=OTHER_UTM)
    assert other.config["ANALYSIS_SRID"] == OTHER_UTM
    asked = []
    original = hotspot_layer.hotspot_features

    def spy(database_url, time, region, analysis_srid, **filters):
        asked.append(analysis_srid)
        return original(database_url, time, region, analysis_srid, **filters)

    monkeypatch.setattr(hotspot_layer, "hotspot_features", spy)
    headers = role_headers(other, "crs", roles=("viewer",))["viewer"]
    answer = other.test_client().get("/ogc/wms", headers=headers, query_string={
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "hotspots",
        "STYLES": "", "CRS": "EPSG:4326", "BBOX": "41,40,43.6,46.8", "WIDTH": "64",
        "HEIGHT": "64", "FORMAT": "image/png", "TRANSPARENT": "TRUE",
        "TIME": f"{start.isoformat()}/{(start + timedelta(days=121)).isoformat()}"})
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert asked == [OTHER_UTM]
    with other.app_context():
        db.engine.dispose()
