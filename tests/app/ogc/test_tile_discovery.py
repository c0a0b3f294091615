"""Vector tiles that clients discover (issue 20): GDAL's MVT tile-directory mode with
``metadata.json`` (read by GDAL 3.6's ogrinfo), and OGC API - Tiles (WebMercatorQuad:
tilesets, tileset, tile matrix set, tiles by the URL template), against the live
server's committed sample layers (three sections, two crossing points, three
incidents)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests

from geo.layers import TILE_LAYERS
from geo.maps.tiling import MAX_ZOOM


def gdal_env(live_server) -> dict:
    """GDAL 3.6's environment for our token: GDAL_HTTP_HEADERS, as the README says;
    without the GDAL_DATA and PROJ_LIB that importing mapnik points at its own copies
    (Debian's GDAL needs Debian's PROJ database)."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("GDAL_DATA", "PROJ_LIB", "PROJ_DATA")}
    return {**environment, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live_server.token}",
            "GDAL_HTTP_TIMEOUT": "60"}


def ogrinfo(live_server, *args: str) -> str:
    done = subprocess.run(["ogrinfo", "-ro", "-al", "-q", *args], env=gdal_env(live_server),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def get_json(live_server, path: str) -> dict:
    response = requests.get(live_server.url + path, headers=live_server.headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_metadata_json_describes_the_tile_directory(live_server):
    metadata = get_json(live_server, "/ogc/tiles/border_segments/metadata.json")
    assert metadata["format"] == "pbf" and metadata["name"] == "border_segments"
    west, south, east, north = (float(v) for v in metadata["bounds"].split(","))
    assert (west, south, east, north) == pytest.approx((44.9, 41.25, 45.55, 41.5), abs=1e-5)
    layers = json.loads(metadata["json"])
    assert [v["id"] for v in layers["vector_layers"]] == ["border_segments"]
    assert layers["vector_layers"][0]["fields"]["code"] == "String"
    assert layers["tilestats"]["layers"][0]["geometry"] == "LineString"


@pytest.mark.parametrize("prefix", ["MVT:", "MVT:/vsicurl/"])
def test_gdal_reads_a_zoom_level_of_the_tile_directory(live_server, prefix):
    """``ogrinfo MVT:<root>/ogc/tiles/{layer}/{z}``: GDAL reads metadata.json beside the
    zoom level (fields and bounds) and the .pbf tiles within the bounds."""
    out = ogrinfo(live_server, f"{prefix}{live_server.url}/ogc/tiles/border_segments/12")
    assert "Layer name: border_segments" in out
    assert "code (String)" in out
    codes = {line.split("=", 1)[1].strip() for line in out.splitlines()
             if line.strip().startswith("code (String) =")}
    assert codes == set(live_server.ids["border_segments"])
    points = ogrinfo(live_server, f"{prefix}{live_server.url}/ogc/tiles/incidents/14")
    # Each incident once (a point in two tiles' buffers is read twice, by its id).
    ids = {int(line.split("=", 1)[1]) for line in points.splitlines()
           if line.strip().startswith("mvt_id (Integer64) =")}
    assert ids == set(live_server.ids["incidents"].values())


def test_ogc_api_tiles_documents(live_server):
    root = "/ogc/features"
    conformance = get_json(live_server, root + "/conformance")["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
    collections = get_json(live_server, root + "/collections")["collections"]
    tiled = {c["id"] for c in collections for link in c["links"]
             if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"}
    assert tiled == set(TILE_LAYERS)
    tms = get_json(live_server, root + "/tileMatrixSets/WebMercatorQuad")
    assert len(tms["tileMatrices"]) == MAX_ZOOM + 1
    assert tms["tileMatrices"][0]["scaleDenominator"] == pytest.approx(559082264.0287178)
    listing = get_json(live_server, root + "/collections/incidents/tiles")
    (tileset_entry,) = listing["tilesets"]
    assert tileset_entry["dataType"] == "vector"
    self_link = next(x["href"] for x in tileset_entry["links"] if x["rel"] == "self")
    tileset = requests.get(self_link, headers=live_server.headers, timeout=30).json()
    item = next(x for x in tileset["links"] if x["rel"] == "item")
    assert item["type"] == "application/vnd.mapbox-vector-tile"
    # T-2 (45.42, 41.45) at zoom 12: column (x) 2564, row (y) 1528.
    url = (item["href"].replace("{tileMatrix}", "12").replace("{tileRow}", "1528")
           .replace("{tileCol}", "2564"))
    tile = requests.get(url, headers=live_server.headers, timeout=30)
    direct = requests.get(live_server.url + "/ogc/tiles/incidents/12/2564/1528.mvt",
                          headers=live_server.headers, timeout=30)
    assert tile.status_code == 200 and tile.content == direct.content
    assert tile.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"


def test_risk_tiles_carry_the_live_levels_of_the_collection(live_server):
    """Issue 20: without a stored assessment the risk tiles hold each section's live
    level (level_source "live"), the level the risk collection gives."""
    import mapbox_vector_tile

    items = get_json(live_server, "/ogc/features/collections/risk/items?limit=100")
    levels = {f["properties"]["code"]: (f["properties"]["level"],
                                        f["properties"]["level_source"])
              for f in items["features"]}
    assert levels and {source for _, source in levels.values()} == {"live"}
    # The sample sections lie in z=8 tiles 159/95 and 160/95 (either side of 45° E).
    found = {}
    for x in (159, 160):
        tile = requests.get(f"{live_server.url}/ogc/tiles/risk/8/{x}/95.mvt",
                            headers=live_server.headers, timeout=60)
        assert tile.status_code in (200, 204)
        if tile.status_code == 200:
            for f in mapbox_vector_tile.decode(tile.content)["risk"]["features"]:
                found[f["properties"]["code"]] = (f["properties"]["level"],
                                                  f["properties"]["level_source"])
    assert found == levels


@pytest.mark.parametrize(("path", "status"), [
    ("/collections/hotspots/tiles", 404),
    ("/collections/nowhere/tiles", 404),
    ("/collections/incidents/tiles/WorldCRS84Quad", 404),
    ("/tileMatrixSets/WorldCRS84Quad", 404),
    ("/collections/incidents/tiles?datetime=yesterday", 400),
])
def test_tiles_api_errors_are_ogc_exceptions(live_server, path, status):
    response = requests.get(live_server.url + "/ogc/features" + path,
                            headers=live_server.headers, timeout=30)
    assert response.status_code == status
    assert set(response.json()) == {"code", "description"}


def test_a_request_without_a_token_is_refused(live_server):
    for path in ("/ogc/tiles/incidents/metadata.json", "/ogc/features/tileMatrixSets",
                 "/ogc/features/collections/incidents/tiles"):
        assert requests.get(live_server.url + path, timeout=30).status_code == 401
