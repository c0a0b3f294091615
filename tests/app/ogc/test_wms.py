"""WMS 1.3.0 / 1.1.1 at /ogc/wms, checked with real clients (OWSLib, GDAL) against the
live server's committed sample layers, and request errors with the Flask client."""

from __future__ import annotations

import io
import json
import subprocess
from base64 import b64encode

import numpy as np
import pytest
import requests
from lxml import etree
from PIL import Image

from geo.crs import MAP_CRS
from geo.layers import INCIDENT_POINT_MAX_SCALE, MAP_LAYERS
from geo.maps import map_request, render
from tests.conftest import TEST_PASSWORD

AREA = (44.85, 41.15, 45.65, 41.65)  # lon/lat around the sample sections
WMS_NS = "{http://www.opengis.net/wms}"
OGC_NS = "{http://www.opengis.net/ogc}"
BASIC = "Basic " + b64encode(f"gis-client:{TEST_PASSWORD}".encode()).decode()


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    response = requests.get(url, headers=headers or {}, timeout=60)
    return response.status_code, dict(response.headers), response.content


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


@pytest.fixture(scope="module")
def wms_url(live_server):
    return live_server.url + "/ogc/wms"


@pytest.fixture(scope="module", params=["1.3.0", "1.1.1"])
def owslib_wms(request, live_server, wms_url):
    from owslib.wms import WebMapService

    # HTTP Basic, as QGIS sends it.
    return WebMapService(wms_url, version=request.param, username="gis-client",
                         password=TEST_PASSWORD)


# ------------------------------------------------------------------ capabilities


def test_owslib_reads_the_capabilities(owslib_wms):
    wms = owslib_wms
    assert wms.identification.title == "BorderRisk"
    assert set(MAP_LAYERS) <= set(wms.contents)
    segments = wms["border_segments"]
    assert set(segments.styles) == {"risk_level", "plain"}
    assert segments.styles["risk_level"]["legend"].startswith("http")
    assert {c.upper() for c in segments.crsOptions} >= set(MAP_CRS)
    west, south, east, north = segments.boundingBoxWGS84
    assert (west, south, east, north) == pytest.approx((44.9, 41.25, 45.55, 41.5), abs=1e-5)
    assert segments.queryable == 1
    assert wms["density"].queryable == 0
    incidents = wms["incidents"]
    assert incidents.timepositions  # the extent of occurred_at
    assert incidents.defaulttimeposition.count("/") == 1  # an interval
    assert not wms["regions"].timepositions
    if wms.version == "1.3.0":
        assert incidents.dimensions["time"]["units"] == "ISO8601"
    methods = {op.name for op in wms.operations}
    assert {"GetCapabilities", "GetMap", "GetFeatureInfo"} <= methods


def test_capabilities_130_structure(wms_url):
    status, headers, body = fetch(wms_url + "?SERVICE=WMS&REQUEST=GetCapabilities"
                                  "&VERSION=1.3.0", {"Authorization": BASIC})
    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(body)
    assert root.tag == WMS_NS + "WMS_Capabilities" and root.get("version") == "1.3.0"
    assert [c.tag for c in root] == [WMS_NS + "Service", WMS_NS + "Capability"]
    service = root.find(WMS_NS + "Service")
    assert service.findtext(WMS_NS + "Name") == "WMS"
    assert service.findtext(WMS_NS + "MaxWidth") == "4096"
    capability = root.find(WMS_NS + "Capability")
    assert [c.tag for c in capability] == [WMS_NS + "Request", WMS_NS + "Exception",
                                           WMS_NS + "Layer"]
    get_map = capability.find(f"{WMS_NS}Request/{WMS_NS}GetMap")
    assert [f.text for f in get_map.findall(WMS_NS + "Format")] == [
        "image/png", "image/png; mode=8bit", "image/jpeg"]
    top = capability.find(WMS_NS + "Layer")
    assert [c.text for c in top.findall(WMS_NS + "CRS")] == list(MAP_CRS)
    layers = {layer.findtext(WMS_NS + "Name"): layer for layer in top.findall(WMS_NS + "Layer")}
    assert set(layers) == set(MAP_LAYERS)
    # Element order of a layer (capabilities_1_3_0.xsd): Name, Title, Abstract,
    # EX_GeographicBoundingBox, BoundingBox*, Dimension*, Style*.
    order = [etree.QName(c).localname for c in layers["incidents"]]
    assert order[:4] == ["Name", "Title", "Abstract", "EX_GeographicBoundingBox"]
    assert order.index("Dimension") > max(i for i, n in enumerate(order) if n == "BoundingBox")
    assert order[-1] == "Style"
    assert "scale" in layers["incidents"].findtext(WMS_NS + "Abstract").lower()
    assert "1:1,000,000" in layers["incidents"].findtext(WMS_NS + "Abstract")
    boxes = {b.get("CRS"): b for b in layers["border_segments"].findall(WMS_NS + "BoundingBox")}
    assert set(boxes) == set(MAP_CRS)
    # EPSG:4326 in 1.3.0: latitude first.
    assert float(boxes["EPSG:4326"].get("minx")) == pytest.approx(41.25)
    assert float(boxes["CRS:84"].get("minx")) == pytest.approx(44.9)
    assert float(boxes["EPSG:32638"].get("minx")) > 100_000  # metres
    dimension = layers["incidents"].find(WMS_NS + "Dimension")
    assert dimension.get("name") == "time" and dimension.get("units") == "ISO8601"
    assert dimension.get("default").count("/") == 1
    assert dimension.text.endswith("/P1D")
    for name, layer in layers.items():
        assert layer.get("queryable") == ("1" if MAP_LAYERS[name].map.queryable else "0")
        assert len(layer.findall(WMS_NS + "Style")) == len(MAP_LAYERS[name].map.styles)
        legend = layer.find(f"{WMS_NS}Style/{WMS_NS}LegendURL")
        assert legend.findtext(WMS_NS + "Format") == "image/png"


def test_capabilities_111_structure(wms_url):
    status, headers, body = fetch(wms_url + "?service=WMS&request=GetCapabilities"
                                  "&version=1.1.1", {"Authorization": BASIC})
    assert status == 200
    assert headers["Content-Type"].startswith("application/vnd.ogc.wms_xml")
    assert b"WMS_MS_Capabilities.dtd" in body
    root = etree.fromstring(body)
    assert root.tag == "WMT_MS_Capabilities" and root.get("version") == "1.1.1"
    assert root.findtext("Service/Name") == "OGC:WMS"
    layers = {layer.findtext("Name"): layer for layer in root.findall("Capability/Layer/Layer")}
    assert set(layers) == set(MAP_LAYERS)
    boxes = {b.get("SRS"): b for b in layers["border_segments"].findall("BoundingBox")}
    assert float(boxes["EPSG:4326"].get("minx")) == pytest.approx(44.9)  # lon first
    assert layers["incidents"].find("LatLonBoundingBox") is not None
    extent = layers["incidents"].find("Extent")
    assert extent.get("name") == "time" and extent.get("default")
    assert layers["incidents"].find("Dimension").get("units") == "ISO8601"


# ------------------------------------------------------------------ GetMap


def test_owslib_getmap_draws_the_segment_colour(owslib_wms):
    image = owslib_wms.getmap(layers=["border_segments"], styles=["plain"], srs="EPSG:4326",
                              bbox=AREA, size=(400, 250), format="image/png")
    data = pixels(image.read())
    # Vertex (45.05, 41.3) of T-AZ-001.
    row = int((AREA[3] - 41.3) / (AREA[3] - AREA[1]) * 250)
    col = int((45.05 - AREA[0]) / (AREA[2] - AREA[0]) * 400)
    window = data[row - 1:row + 2, col - 1:col + 2, :3].astype(int)
    assert (np.abs(window - [0x33, 0x33, 0x33]).max(axis=2) <= 12).any()


def test_owslib_takes_a_lon_lat_box_for_epsg4326_in_both_versions(live_server, wms_url):
    """What the README tells a client-library user: OWSLib's getmap(srs="EPSG:4326",
    bbox=(min lon, min lat, max lon, max lat)) in 1.3.0 too, as OWSLib puts it in
    latitude-first order itself; the map equals a raw 1.1.1 request of that box."""
    from owslib.wms import WebMapService

    wms = WebMapService(wms_url, version="1.3.0", username="gis-client",
                        password=TEST_PASSWORD)
    image = wms.getmap(layers=["border_segments"], styles=["plain"], srs="EPSG:4326",
                       bbox=AREA, size=(320, 200), format="image/png")
    raw = fetch(f"{wms_url}?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS=border_segments"
                f"&STYLES=plain&SRS=EPSG:4326&BBOX={','.join(map(str, AREA))}&WIDTH=320"
                "&HEIGHT=200&FORMAT=image/png", {"Authorization": BASIC})[2]
    drawn = pixels(image.read())
    assert (drawn[..., :3] != 255).any()  # the sections are on it
    assert np.array_equal(drawn, pixels(raw))


def test_130_epsg4326_map_equals_111_map(wms_url):
    common = ("&REQUEST=GetMap&SERVICE=WMS&LAYERS=regions,border_segments,crossing_points,"
              "incidents&STYLES=&WIDTH=320&HEIGHT=200&FORMAT=image/png")
    minx, miny, maxx, maxy = AREA
    v130 = fetch(f"{wms_url}?VERSION=1.3.0&CRS=EPSG:4326&BBOX={miny},{minx},{maxy},{maxx}"
                 + common, {"Authorization": BASIC})
    v111 = fetch(f"{wms_url}?VERSION=1.1.1&SRS=EPSG:4326&BBOX={minx},{miny},{maxx},{maxy}"
                 + common, {"Authorization": BASIC})
    crs84 = fetch(f"{wms_url}?VERSION=1.3.0&CRS=CRS:84&BBOX={minx},{miny},{maxx},{maxy}"
                  + common, {"Authorization": BASIC})
    assert v130[0] == v111[0] == crs84[0] == 200
    a, b, c = pixels(v130[2]), pixels(v111[2]), pixels(crs84[2])
    assert (a != 255).any()  # something was drawn
    assert np.array_equal(a, b)
    assert np.array_equal(a, c)
    # The same bbox without the swap is another place: a different picture.
    swapped = fetch(f"{wms_url}?VERSION=1.3.0&CRS=EPSG:4326&BBOX={minx},{miny},{maxx},{maxy}"
                    + common, {"Authorization": BASIC})
    assert swapped[0] == 200 and not np.array_equal(pixels(swapped[2]), a)


@pytest.mark.parametrize(("fmt", "magic"), [("image/png", b"\x89PNG"),
                                             ("image/png; mode=8bit", b"\x89PNG"),
                                             ("image/jpeg", b"\xff\xd8\xff")])
def test_getmap_formats_and_projected_crs(wms_url, fmt, magic):
    from urllib.parse import quote

    status, headers, body = fetch(
        f"{wms_url}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=countries,border_segments,"
        "incidents&STYLES=,risk_level,&CRS=EPSG:3857&BBOX=4990000,5040000,5090000,5110000"
        f"&WIDTH=256&HEIGHT=180&FORMAT={quote(fmt)}&TRANSPARENT=TRUE&BGCOLOR=0x102030"
        "&TIME=2026-01-01/2026-12-31", {"Authorization": BASIC})
    assert status == 200, body
    assert body.startswith(magic)
    assert headers["Content-Type"] == fmt.split(";")[0]
    if fmt == "image/png; mode=8bit":
        assert body[25] == 3  # palette


def test_gdal_reads_a_map_through_a_wms_service_description(wms_url, tmp_path):
    description = tmp_path / "borderrisk.xml"
    description.write_text(f"""<GDAL_WMS>
  <Service name="WMS">
    <Version>1.1.1</Version>
    <ServerUrl>{wms_url}?</ServerUrl>
    <SRS>EPSG:4326</SRS>
    <ImageFormat>image/png</ImageFormat>
    <Layers>border_segments</Layers>
    <Styles>plain</Styles>
  </Service>
  <DataWindow>
    <UpperLeftX>{AREA[0]}</UpperLeftX><UpperLeftY>{AREA[3]}</UpperLeftY>
    <LowerRightX>{AREA[2]}</LowerRightX><LowerRightY>{AREA[1]}</LowerRightY>
    <SizeX>400</SizeX><SizeY>250</SizeY>
  </DataWindow>
  <BandsCount>4</BandsCount>
  <UserPwd>gis-client:{TEST_PASSWORD}</UserPwd>
  <Cache/>
</GDAL_WMS>""")
    output = tmp_path / "map.png"
    result = subprocess.run(
        ["gdal_translate", "-q", "-of", "PNG", "--config", "GDAL_HTTP_AUTH", "BASIC",
         "--config", "GDAL_DEFAULT_WMS_CACHE_PATH", str(tmp_path / "cache"),
         str(description), str(output)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    data = pixels(output.read_bytes())
    assert data.shape[:2] == (250, 400)
    row = int((AREA[3] - 41.3) / (AREA[3] - AREA[1]) * 250)
    col = int((45.05 - AREA[0]) / (AREA[2] - AREA[0]) * 400)
    window = data[row - 2:row + 3, col - 2:col + 3, :3].astype(int)
    assert (np.abs(window - [0x33, 0x33, 0x33]).max(axis=2) <= 12).any()


# T-1 (45.0, 41.33): an actual illegal crossing between crossing points.
T1_CATEGORY = "illegal_crossing_between_bcp"


def _t1_drawn(wms_url, bbox, size, extra, time="2026-01-01/2026-12-31") -> bool:
    """Whether a GetMap of incidents (transparent, CRS:84) draws near T-1's pixel."""
    width, height = size
    status, headers, body = fetch(
        f"{wms_url}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=incidents&STYLES="
        f"&CRS=CRS:84&BBOX={','.join(map(str, bbox))}&WIDTH={width}&HEIGHT={height}"
        f"&FORMAT=image/png&TRANSPARENT=TRUE&TIME={time}{extra}",
        {"Authorization": BASIC})
    assert status == 200 and headers["Content-Type"] == "image/png", body
    row = int((bbox[3] - 41.33) / (bbox[3] - bbox[1]) * height)
    col = int((45.0 - bbox[0]) / (bbox[2] - bbox[0]) * width)
    return bool(pixels(body)[row - 3:row + 4, col - 3:col + 4, 3].any())


# ~8 km: each incident a point; ~900 km: incidents counted in cells (T-1 alone in its).
@pytest.mark.parametrize(("bbox", "size"), [((44.95, 41.30, 45.05, 41.36), (256, 154)),
                                            ((40.0, 40.0, 48.0, 44.0), (512, 256))],
                         ids=["points", "cells"])
@pytest.mark.parametrize(("extra", "drawn"), [
    ("", True),
    (f"&CATEGORY={T1_CATEGORY}", True),
    (f"&CATEGORY=smuggling_tobacco,{T1_CATEGORY}", True),
    ("&CATEGORY=smuggling_tobacco,refusal_of_entry", False),
    ("&OUTCOME=actual", True),
    ("&OUTCOME=attempted,actual", True),
    ("&OUTCOME=attempted", False),
    (f"&CATEGORY={T1_CATEGORY}&OUTCOME=attempted", False),
])
def test_getmap_category_and_outcome(wms_url, bbox, size, extra, drawn):
    scale = map_request.scale_denominator(map_request.MapRequest(layers=("incidents",), bbox=bbox,
                                                       width=size[0], height=size[1]))
    assert (scale >= INCIDENT_POINT_MAX_SCALE) == (size[0] == 512)
    assert _t1_drawn(wms_url, bbox, size, extra) is drawn


def test_time_dimension_is_days_and_a_days_midnight_draws_that_day(owslib_wms, wms_url):
    """QGIS 3.22 sends the start of its temporal range (TIME=...T00:00:00Z, issue 20):
    with the dimension advertised in whole days (resolution P1D), that instant is the
    day. T-1 occurred at 2026-10-01T02:30Z."""
    for name in ("incidents", "hotspots", "density"):
        layer = owslib_wms[name]
        extent = (layer.dimensions["time"]["values"] if owslib_wms.version == "1.3.0"
                  else layer.timepositions)
        first, last, resolution = extent[0].split("/")
        assert resolution == "P1D", name
        assert first.endswith("T00:00:00Z") and last.endswith("T00:00:00Z"), name
        assert first <= "2025-03-02T00:00:00Z" and last == "2026-10-15T00:00:00Z", name
    bbox, size = (44.95, 41.30, 45.05, 41.36), (256, 154)
    drawn = {time: _t1_drawn(wms_url, bbox, size, "", time) for time in (
        "2026-10-01T00:00:00Z", "2026-10-01", "2026-10-01T02:30:00Z",
        "2026-10-01T00:00:00Z/2026-10-01T03:00:00Z", "2026-10-02T00:00:00Z",
        "2026-10-01T02:31:00Z", "2026-09-30T00:00:00Z/2026-10-01T02:00:00Z")}
    assert drawn == {"2026-10-01T00:00:00Z": True, "2026-10-01": True,
                     "2026-10-01T02:30:00Z": True,
                     "2026-10-01T00:00:00Z/2026-10-01T03:00:00Z": True,
                     "2026-10-02T00:00:00Z": False, "2026-10-01T02:31:00Z": False,
                     "2026-09-30T00:00:00Z/2026-10-01T02:00:00Z": False}


def test_owslib_getmap_with_a_days_time_draws_its_incidents(owslib_wms):
    """OWSLib's ``time=`` as a client passes a value of the dimension."""
    bbox = (44.95, 41.30, 45.05, 41.36)
    image = owslib_wms.getmap(layers=["incidents"], styles=[""], srs="EPSG:4326",
                              bbox=bbox, size=(256, 154), format="image/png",
                              transparent=True, time="2026-10-01T00:00:00Z")
    data = pixels(image.read())
    row = int((bbox[3] - 41.33) / (bbox[3] - bbox[1]) * 154)
    col = int((45.0 - bbox[0]) / (bbox[2] - bbox[0]) * 256)
    assert data[row - 3:row + 4, col - 3:col + 4, 3].any()
    empty = owslib_wms.getmap(layers=["incidents"], styles=[""], srs="EPSG:4326",
                              bbox=bbox, size=(256, 154), format="image/png",
                              transparent=True, time="2026-10-02T00:00:00Z")
    assert not pixels(empty.read())[..., 3].any()


def _density_box(wms_url) -> tuple[float, float, float, float]:
    _, _, body = fetch(wms_url + "?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
                       {"Authorization": BASIC})
    layers = etree.fromstring(body).findall(f"{WMS_NS}Capability/{WMS_NS}Layer/{WMS_NS}Layer")
    (density,) = [layer for layer in layers if layer.findtext(WMS_NS + "Name") == "density"]
    box = {b.get("CRS"): b for b in density.findall(WMS_NS + "BoundingBox")}["CRS:84"]
    return tuple(float(box.get(k)) for k in ("minx", "miny", "maxx", "maxy"))


def _density_alpha(wms_url, bbox, width, height) -> np.ndarray:
    status, _, body = fetch(
        f"{wms_url}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=density&STYLES="
        f"&CRS=CRS:84&BBOX={','.join(map(str, bbox))}&WIDTH={width}&HEIGHT={height}"
        "&FORMAT=image/png&TRANSPARENT=TRUE&TIME=2025-01-01/2026-12-31",
        {"Authorization": BASIC})
    assert status == 200, body
    return pixels(body)[..., 3]


def test_density_bounding_box_covers_what_it_draws(wms_url):
    """Issue 20: the density layer's advertised box holds every pixel it draws, and a
    map of that box is not cut at its edges (the kernel reaches past the incidents)."""
    west, south, east, north = _density_box(wms_url)
    incidents_box = (44.7, 41.1, 45.42, 41.45)  # T-3 .. T-2
    assert west < incidents_box[0] and south < incidents_box[1]
    assert east > incidents_box[2] and north > incidents_box[3]
    # A map twice as large: where it draws lies inside the advertised box.
    dx, dy = (east - west) / 2, (north - south) / 2
    wide = (west - dx, south - dy, east + dx, north + dy)
    size = (800, int(800 * (wide[3] - wide[1]) / (wide[2] - wide[0])))
    alpha = _density_alpha(wms_url, wide, *size)
    rows, cols = np.nonzero(alpha)
    assert len(rows), "the density layer draws something"
    per_x = (wide[2] - wide[0]) / size[0]
    per_y = (wide[3] - wide[1]) / size[1]
    drawn = (wide[0] + cols.min() * per_x, wide[3] - (rows.max() + 1) * per_y,
             wide[0] + (cols.max() + 1) * per_x, wide[3] - rows.min() * per_y)
    tolerance = 4 * max(per_x, per_y)  # the layer's 4-pixel cells
    assert drawn[0] >= west - tolerance and drawn[1] >= south - tolerance
    assert drawn[2] <= east + tolerance and drawn[3] <= north + tolerance
    # The map of the advertised box: nothing drawn at its edges, so nothing cut there.
    fitted = _density_alpha(wms_url, (west, south, east, north), 400, 400)
    assert fitted.any()
    edges = np.concatenate([fitted[:2].ravel(), fitted[-2:].ravel(), fitted[:, :2].ravel(),
                            fitted[:, -2:].ravel()])
    assert not edges.any()


def test_sections_show_the_workspaces_level_and_say_its_source(live_server, wms_url):
    """Issue 20: without a stored assessment, border_segments is coloured by the live
    level the workspace shows (/api/v1/risk/segments of the section's region, default
    period), and GetFeatureInfo says level_source "live"."""
    from geo.maps.palette import RISK_LEVEL_COLOURS

    bbox = (45.0, 41.25, 45.1, 41.35)  # around T-AZ-001's vertex (45.05, 41.3)
    status, _, body = fetch(
        f"{wms_url}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetFeatureInfo&LAYERS=border_segments"
        f"&QUERY_LAYERS=border_segments&STYLES=&CRS=CRS:84&BBOX={','.join(map(str, bbox))}"
        "&WIDTH=101&HEIGHT=101&I=50&J=50&INFO_FORMAT=application/json",
        {"Authorization": BASIC})
    assert status == 200, body
    (feature,) = json.loads(body)["features"]
    properties = feature["properties"]
    assert properties["code"] == "T-AZ-001" and properties["level_source"] == "live"
    section_id = feature["id"].split(".")[1]
    section = requests.get(f"{live_server.url}/api/v1/border_segments/{section_id}",
                           headers=live_server.headers, timeout=30).json()
    codes = {i: c for c, i in live_server.ids["regions"].items()}
    ranking = requests.get(f"{live_server.url}/api/v1/risk/segments", timeout=60,
                           headers=live_server.headers, params={
                               "region": codes[section["properties"]["region_id"]]}).json()
    (ranked,) = [s for s in ranking["sections"] if s["code"] == "T-AZ-001"]
    assert properties["level"] == ranked["level"]
    status, _, image = fetch(
        f"{wms_url}?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=border_segments"
        f"&STYLES=&CRS=CRS:84&BBOX={','.join(map(str, bbox))}&WIDTH=101&HEIGHT=101"
        "&FORMAT=image/png&TRANSPARENT=TRUE", {"Authorization": BASIC})
    window = pixels(image)[47:54, 47:54]
    colour = np.array([int(RISK_LEVEL_COLOURS[ranked["level"]][k:k + 2], 16)
                       for k in (1, 3, 5)])
    opaque = window[..., 3] > 200
    assert (np.abs(window[opaque][:, :3].astype(int) - colour).max(axis=1) <= 12).any()


def test_capabilities_mention_the_vendor_parameters(wms_url):
    _, _, body = fetch(wms_url + "?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0",
                       {"Authorization": BASIC})
    abstract = etree.fromstring(body).find(f"{WMS_NS}Service/{WMS_NS}Abstract").text
    assert "CATEGORY" in abstract and "OUTCOME" in abstract and "REGION" in abstract


# ------------------------------------------------------------------ GetFeatureInfo


def _info(wms_url, version, fmt, count=1, extra=""):
    from urllib.parse import quote

    bbox = (44.95, 41.30, 45.05, 41.36)  # incident T-1 at (45.0, 41.33) is its centre
    width, height = 200, 120
    i = int((45.0 - bbox[0]) / (bbox[2] - bbox[0]) * width)
    j = int((bbox[3] - 41.33) / (bbox[3] - bbox[1]) * height)
    if version == "1.3.0":
        where = (f"CRS=EPSG:4326&BBOX={bbox[1]},{bbox[0]},{bbox[3]},{bbox[2]}"
                 f"&I={i}&J={j}")
    else:
        where = f"SRS=EPSG:4326&BBOX={','.join(map(str, bbox))}&X={i}&Y={j}"
    return fetch(f"{wms_url}?SERVICE=WMS&VERSION={version}&REQUEST=GetFeatureInfo"
                 f"&LAYERS=border_segments,incidents&QUERY_LAYERS=incidents&STYLES="
                 f"&WIDTH={width}&HEIGHT={height}&{where}&INFO_FORMAT={quote(fmt)}"
                 f"&FEATURE_COUNT={count}{extra}", {"Authorization": BASIC})


@pytest.mark.parametrize("version", ["1.3.0", "1.1.1"])
def test_getfeatureinfo_returns_the_incident_there(live_server, wms_url, version):
    status, headers, body = _info(wms_url, version, "application/json",
                                  extra="&TIME=2026-10-01")
    assert status == 200, body
    features = json.loads(body)["features"]
    assert len(features) == 1
    properties = features[0]["properties"]
    assert properties["external_id"] == "T-1"
    assert properties["id"] == live_server.ids["incidents"]["T-1"]
    assert properties["category"] == "illegal_crossing_between_bcp"
    assert features[0]["geometry"]["coordinates"] == pytest.approx([45.0, 41.33])


def test_getfeatureinfo_formats_and_time(wms_url):
    status, headers, html = _info(wms_url, "1.3.0", "text/html", extra="&TIME=2026-10-01")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"T-1" in html and b"<table>" in html
    status, headers, plain = _info(wms_url, "1.3.0", "text/plain", extra="&TIME=2026-10-01")
    assert headers["Content-Type"].startswith("text/plain")
    assert b"external_id = T-1" in plain
    # Outside the time window the incident is not there.
    status, _, body = _info(wms_url, "1.3.0", "application/json",
                            extra="&TIME=2025-01-01/2025-12-31")
    assert status == 200 and json.loads(body)["features"] == []


@pytest.mark.parametrize(("extra", "found"), [
    ("&CATEGORY=illegal_crossing_between_bcp", ["T-1"]),
    ("&CATEGORY=smuggling_tobacco,refusal_of_entry", []),
    ("&OUTCOME=actual", ["T-1"]),
    ("&OUTCOME=attempted", []),
    ("&OUTCOME=attempted,actual&CATEGORY=", ["T-1"]),
])
def test_getfeatureinfo_category_and_outcome(wms_url, extra, found):
    status, _, body = _info(wms_url, "1.3.0", "application/json",
                            extra="&TIME=2026-10-01" + extra)
    assert status == 200, body
    assert [f["properties"]["external_id"] for f in json.loads(body)["features"]] == found


def test_owslib_getfeatureinfo(owslib_wms):
    bbox = (44.95, 41.30, 45.05, 41.36)
    i = int((45.0 - bbox[0]) / (bbox[2] - bbox[0]) * 200)
    j = int((bbox[3] - 41.33) / (bbox[3] - bbox[1]) * 120)
    response = owslib_wms.getfeatureinfo(
        layers=["incidents"], srs="EPSG:4326", bbox=bbox, size=(200, 120),
        format="image/png", query_layers=["incidents"], info_format="application/json",
        xy=(i, j), feature_count=5, time="2026-10-01T00:00:00Z/2026-10-02T00:00:00Z")
    features = json.loads(response.read())["features"]
    assert [f["properties"]["external_id"] for f in features] == ["T-1"]


# ------------------------------------------------------------------ legends


@pytest.mark.parametrize("layer", list(MAP_LAYERS))
def test_legend_graphic_for_every_layer_and_style(wms_url, layer):
    for style in MAP_LAYERS[layer].map.style_names():
        status, headers, body = fetch(
            f"{wms_url}?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png"
            f"&LAYER={layer}&STYLE={style}", {"Authorization": BASIC})
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(body)).size == render.legend_size(layer, style)


# ------------------------------------------------------------------ authentication


def test_unauthenticated_request_is_challenged(wms_url):
    status, headers, _ = fetch(wms_url + "?SERVICE=WMS&REQUEST=GetCapabilities")
    assert status == 401
    assert 'Basic realm="BorderRisk"' in headers["WWW-Authenticate"]
    assert "Bearer" in headers["WWW-Authenticate"]
    wrong = "Basic " + b64encode(b"gis-client:wrong-password").decode()
    status, headers, _ = fetch(wms_url + "?SERVICE=WMS&REQUEST=GetCapabilities",
                               {"Authorization": wrong})
    assert status == 401 and "Basic" in headers["WWW-Authenticate"]


def test_bearer_token_works_too(live_server, wms_url):
    status, _, body = fetch(wms_url + "?SERVICE=WMS&REQUEST=GetCapabilities",
                            live_server.headers)
    assert status == 200 and b"WMS_Capabilities" in body


# ------------------------------------------------------------------ exceptions

GOOD_MAP = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "regions",
            "STYLES": "", "CRS": "EPSG:4326", "BBOX": "41,44,42,46", "WIDTH": "64",
            "HEIGHT": "64", "FORMAT": "image/png"}


def _exception(client, headers, params) -> tuple[int, str | None, str | None, bytes]:
    response = client.get("/ogc/wms", query_string=params, headers=headers)
    root = etree.fromstring(response.data)
    if root.get("version") == "1.1.1":
        item = root.find("ServiceException")
    else:
        assert root.tag == OGC_NS + "ServiceExceptionReport"
        item = root.find(OGC_NS + "ServiceException")
    return response.status_code, item.get("code"), item.get("locator"), response.data


@pytest.mark.parametrize(("change", "code", "locator"), [
    ({"FORMAT": "image/gif"}, "InvalidFormat", "FORMAT"),
    ({"CRS": "EPSG:2154"}, "InvalidCRS", "CRS"),
    ({"LAYERS": "regions,nope"}, "LayerNotDefined", "LAYERS"),
    ({"STYLES": "bold"}, "StyleNotDefined", "STYLES"),
    ({"LAYERS": "incidents", "TIME": ""}, "MissingDimensionValue", "TIME"),
    ({"LAYERS": "incidents", "TIME": "last tuesday"}, "InvalidDimensionValue", "TIME"),
    ({"LAYERS": "incidents", "TIME": "2026-02-01/2026-01-01"}, "InvalidDimensionValue", "TIME"),
    ({"LAYERS": "incidents", "TIME": "0001-01-01/9999-12-31"}, "InvalidDimensionValue",
     "TIME"),
    ({"LAYERS": "incidents", "TIME": "2026-01-01,2026-02-01"}, "InvalidDimensionValue",
     "TIME"),
    ({"BBOX": None}, "MissingParameterValue", "BBOX"),
    ({"LAYERS": None}, "MissingParameterValue", "LAYERS"),
    ({"REQUEST": "GetStyles"}, "OperationNotSupported", "REQUEST"),
    ({"WIDTH": "5000"}, "InvalidParameterValue", "WIDTH"),
    ({"BBOX": "1,2,3"}, "InvalidParameterValue", "BBOX"),
    ({"BGCOLOR": "red"}, "InvalidParameterValue", "BGCOLOR"),
    ({"LAYERS": "incidents", "CATEGORY": "jaywalking"}, "InvalidParameterValue", "CATEGORY"),
    ({"LAYERS": "incidents", "CATEGORY": "smuggling_tobacco,nope"}, "InvalidParameterValue",
     "CATEGORY"),
    ({"LAYERS": "incidents", "OUTCOME": "failed"}, "InvalidParameterValue", "OUTCOME"),
    ({"LAYERS": "incidents", "OUTCOME": "Actual"}, "InvalidParameterValue", "OUTCOME"),
])
def test_getmap_errors_are_service_exceptions(client, token_headers, change, code, locator):
    params = {k: v for k, v in {**GOOD_MAP, **change}.items() if v is not None}
    status, got_code, got_locator, _ = _exception(client, token_headers("viewer"), params)
    assert (status, got_code, got_locator) == (400, code, locator)


def test_111_exceptions_use_the_111_format(client, token_headers):
    params = {**GOOD_MAP, "VERSION": "1.1.1", "SRS": "EPSG:2154"}
    params.pop("CRS")
    response = client.get("/ogc/wms", query_string=params, headers=token_headers("viewer"))
    assert response.status_code == 400
    assert response.mimetype == "application/vnd.ogc.se_xml"
    assert b"exception_1_1_1.dtd" in response.data
    root = etree.fromstring(response.data)
    assert root.find("ServiceException").get("code") == "InvalidSRS"


def test_feature_info_errors(client, token_headers):
    params = {**GOOD_MAP, "REQUEST": "GetFeatureInfo", "QUERY_LAYERS": "regions",
              "INFO_FORMAT": "application/json", "I": "10", "J": "99"}
    headers = token_headers("viewer")
    assert _exception(client, headers, params)[1:3] == ("InvalidPoint", "J")
    assert _exception(client, headers, {**params, "J": "3", "INFO_FORMAT": "text/csv"}
                      )[1:3] == ("InvalidFormat", "INFO_FORMAT")
    assert _exception(client, headers, {**params, "J": "3", "QUERY_LAYERS": "incidents"}
                      )[1:3] == ("LayerNotDefined", "QUERY_LAYERS")
    v111 = {**params, "VERSION": "1.1.1", "SRS": "EPSG:4326", "X": "-1", "Y": "3"}
    assert _exception(client, headers, v111)[1:3] == ("InvalidPoint", "X")
    for name, bad in (("CATEGORY", "jaywalking"), ("OUTCOME", "failed")):
        status, code, locator, body = _exception(client, headers, {**params, "J": "3",
                                                                   name: bad})
        assert (status, code, locator) == (400, "InvalidParameterValue", name)
        assert bad.encode() in body


def test_parameter_names_are_case_insensitive(client, token_headers, sample_layers):
    headers = token_headers("viewer")
    # Lower-case names whose values are not the defaults: each must have been read.
    params = {**{k.lower(): v for k, v in GOOD_MAP.items()}, "width": "48", "height": "32",
              "bgcolor": "0x00FF00"}
    response = client.get("/ogc/wms", query_string=params, headers=headers)
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = pixels(response.data)
    assert image.shape == (32, 48, 4)
    assert (image[0, 0] == (0, 255, 0, 255)).all()  # the background asked for


def test_legend_and_capabilities_errors(client, token_headers):
    headers = token_headers("viewer")
    base = {"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "FORMAT": "image/png"}
    assert _exception(client, headers, {**base, "LAYER": "nope"})[1] == "LayerNotDefined"
    assert _exception(client, headers, {**base, "LAYER": "regions", "STYLE": "x"}
                      )[1] == "StyleNotDefined"
    assert _exception(client, headers, {"SERVICE": "WMS", "REQUEST": "GetCapabilities",
                                        "FORMAT": "application/pdf"})[1] == "InvalidFormat"
    assert _exception(client, headers, {"SERVICE": "WMS"})[1:3] == ("MissingParameterValue",
                                                                    "REQUEST")


@pytest.mark.parametrize("where", [
    {"BBOX": "-1e308,-1e308,1e308,1e308"},
    {"CRS": "EPSG:3857", "BBOX": "-1e9,-1e9,1e9,1e9"},
    {"CRS": "EPSG:32638", "BBOX": "499999,4599999,500000,4600000"},
])
def test_extreme_boxes_still_give_a_map(client, token_headers, where):
    params = {**GOOD_MAP, "LAYERS": "countries,border_segments,incidents,density",
              "TIME": "2026-01-01/..", **where}
    response = client.get("/ogc/wms", query_string=params, headers=token_headers("viewer"))
    assert response.status_code == 200 and response.mimetype == "image/png"
    # A whole image of the requested size, not an error drawn as a picture.
    assert pixels(response.data).shape == (64, 64, 4)


def test_basic_auth_follows_password_changes_and_deactivation(client, db_session, make_user):
    from app.auth.users import set_password

    user = make_user("viewer")
    params = {"SERVICE": "WMS", "REQUEST": "GetLegendGraphic", "LAYER": "regions"}

    def basic(password):
        token = b64encode(f"{user.username}:{password}".encode()).decode()
        return client.get("/ogc/wms", query_string=params,
                          headers={"Authorization": f"Basic {token}"}).status_code

    assert basic(TEST_PASSWORD) == 200
    assert basic(TEST_PASSWORD) == 200  # remembered, still checked against the user
    assert basic("not-the-password") == 401
    set_password(user, "a-new-password-456")
    db_session.flush()
    assert basic(TEST_PASSWORD) == 401  # the old password is no longer remembered
    assert basic("a-new-password-456") == 200
    user.active = False
    db_session.flush()
    assert basic("a-new-password-456") == 401


def test_feature_count_applies_per_layer(wms_url):
    # A box over both sample sections and every sample incident but T-3.
    bbox = (44.85, 41.15, 45.65, 41.65)
    common = (f"{wms_url}?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetFeatureInfo&SRS=EPSG:4326"
              f"&BBOX={','.join(map(str, bbox))}&WIDTH=8&HEIGHT=5&X=4&Y=2&STYLES="
              "&LAYERS=border_segments,incidents&INFO_FORMAT=application/json"
              "&TIME=2026-01-01/2026-12-31")
    one = json.loads(fetch(common + "&QUERY_LAYERS=incidents&FEATURE_COUNT=1",
                           {"Authorization": BASIC})[2])["features"]
    two = json.loads(fetch(common + "&QUERY_LAYERS=incidents&FEATURE_COUNT=5",
                           {"Authorization": BASIC})[2])["features"]
    assert len(one) == 1
    assert {f["properties"]["external_id"] for f in two} == {"T-1", "T-2"}
    both = json.loads(fetch(common + "&QUERY_LAYERS=border_segments,incidents"
                            "&FEATURE_COUNT=1", {"Authorization": BASIC})[2])["features"]
    assert sorted(f["properties"]["layer"] for f in both) == ["border_segments", "incidents"]


@pytest.mark.parametrize(("value", "window"), [
    ("2026-03-01", ("2026-03-01T00:00:00+00:00", "2026-03-01T23:59:59.999999+00:00")),
    ("2026-03-01T10:20:30Z", ("2026-03-01T10:20:30+00:00", "2026-03-01T10:20:30.999999+00:00")),
    ("2026-03-01T00:00:00Z", ("2026-03-01T00:00:00+00:00", "2026-03-01T23:59:59.999999+00:00")),
    ("2026-03-01/2026-03-31", ("2026-03-01T00:00:00+00:00", "2026-03-31T23:59:59.999999+00:00")),
    ("2026-03-01T00:00:00Z/2026-03-31T12:00:00Z",
     ("2026-03-01T00:00:00+00:00", "2026-03-31T12:00:00+00:00")),
    ("../2026-03-31T12:00:00Z", (None, "2026-03-31T12:00:00+00:00")),
    ("2026-03-01T00:00:00Z/..", ("2026-03-01T00:00:00+00:00", None)),
    ("2026-03-01T12:00:00Z/2026-03-01T12:00:00Z",
     ("2026-03-01T12:00:00+00:00", "2026-03-01T12:00:00+00:00")),
])
def test_time_is_a_closed_window(value, window):
    """WMS TIME gives the closed window [start, end] every layer and GetFeatureInfo use
    (as FeatureQuery and OGC API datetime): a date ends at its last microsecond, a
    date-time end is that instant."""
    from app.ogc.wms import parse_time

    start, end = parse_time(value, None)
    assert (start.isoformat() if start else None, end.isoformat() if end else None) == window


def test_time_ending_before_it_starts_is_refused():
    from app.ogc.wms import WmsError, parse_time

    with pytest.raises(WmsError, match="ends before it starts") as caught:
        parse_time("2026-03-02T00:00:00Z/2026-03-01T23:59:59Z", None)
    assert caught.value.locator == "TIME"
