"""The WMS and OGC API Features protocol functions run without Flask: a
``ServiceContext`` and the parameters in, ``(headers, status, body)`` out."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from lxml import etree

from app.ogc import features, wms
from app.ogc.context import ServiceContext

ROOT = Path(__file__).resolve().parents[3]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_protocol_modules_import_no_flask_and_no_request_state():
    for module in ("app/ogc/wms.py", "app/ogc/features.py", "app/ogc/context.py"):
        imported = _imports(ROOT / module)
        assert not {n for n in imported if n.split(".")[0] in ("flask", "flask_login")}, module
        assert not imported & {"app.extensions", "app.auth.scope", "app.errors"}, module


def _context(session, scope=None, codes=None, pages=None) -> ServiceContext:
    def render_html(template, **context):  # no Flask: record what would be drawn
        pages.append((template, context))
        return f"<html>{template}</html>"

    return ServiceContext(
        # The capabilities read the map renderer's incident points (the density
        # layer's extent): the test database's URL (its own connections see none of
        # the test's uncommitted rows).
        session=session, service_root="http://x/",
        database_url=session.get_bind().engine.url.render_as_string(hide_password=False),
        scope=scope, scope_codes=codes, agency=None, analysis_srid=32638, max_cells=20_000,
        wms_max_size=512, render_html=render_html)


def test_wms_capabilities_and_errors_from_a_plain_context(db_session, sample_layers):
    kk = sample_layers["regions"]["T-KK"]
    context = _context(db_session, frozenset({kk}), ("T-KK",))
    headers, status, body = wms.wms(context, {"SERVICE": "WMS", "REQUEST": "GetCapabilities",
                                              "VERSION": "1.3.0"})
    assert (status, headers["Content-Type"]) == (200, "text/xml")
    document = etree.fromstring(body)
    ns = {"w": "http://www.opengis.net/wms"}
    assert document.find(".//w:OnlineResource", ns).get(
        "{http://www.w3.org/1999/xlink}href").startswith("http://x/ogc/wms?")
    assert document.findtext(".//w:MaxWidth", namespaces=ns) == "512"
    # A region outside the context's scope: 403, a ServiceExceptionReport naming REGION.
    headers, status, body = wms.wms(context, {
        "SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": "incidents",
        "STYLES": "", "CRS": "CRS:84", "BBOX": "44,41,46,42", "WIDTH": "10",
        "HEIGHT": "10", "FORMAT": "image/png", "REGION": "T-KA"})
    assert (status, headers["Content-Type"]) == (403, "text/xml")
    assert b'locator="REGION">\'T-KA\' is not one of your regions (T-KK)<' in body
    # Too wide for this context's limit.
    headers, status, body = wms.wms(context, {
        "SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.3.0", "LAYERS": "regions",
        "STYLES": "", "CRS": "CRS:84", "BBOX": "44,41,46,42", "WIDTH": "513",
        "HEIGHT": "10", "FORMAT": "image/png"})
    assert status == 400 and b'locator="WIDTH"' in body


def test_features_items_from_a_plain_context(db_session, sample_layers):
    pages = []
    kk = sample_layers["regions"]["T-KK"]
    context = _context(db_session, frozenset({kk}), ("T-KK",), pages)
    headers, status, body = features.answer(
        features.get_collection_items, "http://x/ogc/features", {"limit": "5"}, "json",
        None, context, "crossing_points")
    assert (status, headers["Content-Type"]) == (200, "application/geo+json")
    collection = json.loads(body)
    assert [f["properties"]["code"] for f in collection["features"]] == ["T-BCP-1"]
    assert collection["numberMatched"] == 1  # T-BCP-2 lies in T-KA, outside the scope
    headers, status, body = features.answer(
        features.get_collection_items, "http://x/ogc/features", {}, "html", None, context,
        "crossing_points")
    assert (status, body) == (200, "<html>ogc/features_items.html</html>")
    assert [p[0] for p in pages] == ["ogc/features_items.html"]
    headers, status, body = features.answer(
        features.get_collection_items, "http://x/ogc/features", {"limit": "x"}, "json",
        None, context, "crossing_points")
    assert status == 400
    assert json.loads(body) == {"code": "InvalidParameterValue",
                                "description": "limit: 'x' is not a whole number"}
