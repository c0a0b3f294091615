"""The WMS hot-spot layer's datasource cache: keyed by every table's data version."""

from sqlalchemy import text

from app.extensions import db
from geo.maps.hotspot_layer import hotspot_datasource
from geo.maps.map_request import MapRequest
from testsupport.apps import committed_sample_layers


def test_the_hotspot_layer_is_made_anew_after_a_region_changes(databases):
    app, _ = committed_sample_layers(databases)  # a database of its own: this test writes
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    request = MapRequest(layers=("hotspots",), analysis_srid=app.config["ANALYSIS_SRID"])
    first = hotspot_datasource(url, request)
    assert hotspot_datasource(url, request) is first
    with app.app_context():
        # An edit of a region (its version is bumped by any statement that changes it).
        db.session.execute(text(
            "UPDATE regions SET geom = geom WHERE id = (SELECT min(id) FROM regions)"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert hotspot_datasource(url, request) is not first
