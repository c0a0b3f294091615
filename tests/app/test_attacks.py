"""Attacks, each refused or neutralised: stored XSS, CSRF, SQL injection, path traversal
in import file names, zip bombs and oversize uploads.

Every test also checks the harmless request next to the hostile one (the view shows the
text, the token passes, the filter finds the row, the clean zip imports), so a test
cannot pass because the feature is simply broken.
"""

from __future__ import annotations

import io
import json
import re
import resource
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from geo.layers import LAYERS
from tests.app.auth.test_auth import csrf_token, login

SCRIPT = "<script>alert('xss')</script>"
IMG = "<img src=x onerror=alert(1)>"
RAW_MARKERS = ("<script>alert", "<img src=x onerror")
ESCAPED_SCRIPT = ("&lt;script&gt;alert", "\\u003cscript\\u003ealert")




def assert_escaped(body: str, where: str, shown: bool = True) -> None:
    """No payload as markup; when ``shown``, the payload's text is on the page."""
    for marker in RAW_MARKERS:
        assert marker not in body, f"{where}: {marker!r} unescaped"
    if shown:
        assert any(escaped in body for escaped in ESCAPED_SCRIPT), f"{where}: payload missing"


# --- stored XSS --------------------------------------------------------------------------

@pytest.fixture
def hostile(client, sample_layers, analyst, supervisor):
    """An incident and a border section whose text fields hold markup."""
    incident = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
                "properties": {"source": f"src{SCRIPT}"[:64], "external_id": f"{IMG}{SCRIPT}",
                               "occurred_at": "2026-09-01T08:00:00Z",
                               "category": "illegal_crossing_between_bcp",
                               "description": f"notes {SCRIPT} {IMG}"}}
    created = client.post("/api/v1/incidents", json=incident, headers=analyst)
    assert created.status_code == 201, created.get_data(as_text=True)
    segment_id = sample_layers["border_segments"]["T-AZ-001"]
    renamed = client.patch(f"/api/v1/segments/{segment_id}", headers=supervisor,
                           json={"properties": {"name": f"West {SCRIPT}{IMG}"}})
    assert renamed.status_code == 200, renamed.get_data(as_text=True)
    return {"incident": created.get_json()["id"], "segment": segment_id}


def test_stored_xss_in_ogc_features_html(client, hostile, analyst):
    items = client.get("/ogc/features/collections/incidents/items",
                       query_string={"f": "html", "limit": 100}, headers=analyst)
    assert items.status_code == 200 and items.content_type.startswith("text/html")
    assert_escaped(items.get_data(as_text=True), "incident items")
    item = client.get(f"/ogc/features/collections/incidents/items/{hostile['incident']}",
                      query_string={"f": "html"}, headers=analyst)
    assert item.status_code == 200
    assert_escaped(item.get_data(as_text=True), "incident item")
    segments = client.get("/ogc/features/collections/border_segments/items",
                          query_string={"f": "html"}, headers=analyst)
    assert_escaped(segments.get_data(as_text=True), "segment items")


def test_stored_xss_in_wms_feature_info_html(client, hostile, analyst):
    lon, lat = 45.01, 41.32
    for layer in ("incidents", "border_segments"):
        if layer == "border_segments":
            lon, lat = _segment_point(client, hostile["segment"], analyst)
        response = client.get("/ogc/wms", headers=analyst, query_string={
            "SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetFeatureInfo",
            "LAYERS": layer, "QUERY_LAYERS": layer, "STYLES": "", "SRS": "EPSG:4326",
            "BBOX": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}",
            "WIDTH": 101, "HEIGHT": 101, "X": 50, "Y": 50, "INFO_FORMAT": "text/html",
            "FEATURE_COUNT": 10, "TIME": "2026-09-01"})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.content_type.startswith("text/html")
        assert_escaped(response.get_data(as_text=True), f"GetFeatureInfo {layer}")


def _segment_point(client, segment_id, headers) -> tuple[float, float]:
    feature = client.get(f"/api/v1/segments/{segment_id}", headers=headers).get_json()
    point = shapely.geometry.shape(feature["geometry"]).interpolate(0.5, normalized=True)
    return point.x, point.y


@pytest.fixture(scope="module")
def committed_hostile(databases):
    """The sample layers committed on their own database (the bulletin's map reads them
    through mapnik's own connection), a section and a region named with markup."""
    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from tests.conftest import TEST_PASSWORD, committed_sample_layers

    app, ids = committed_sample_layers(databases)
    with app.app_context():
        db.session.execute(text("UPDATE border_segments SET name = :name WHERE id = :id"),
                           {"name": f"West {SCRIPT}{IMG}",
                            "id": ids["border_segments"]["T-AZ-001"]})
        db.session.execute(text("UPDATE regions SET name_en = :name WHERE code = 'T-KK'"),
                           {"name": f"Region {SCRIPT}"})
        user = create_user(db.session, "xss-viewer", "viewer", TEST_PASSWORD)
        _, token = create_token(db.session, user, "test")
        db.session.commit()
        db.session.remove()
    yield app, {"Authorization": f"Bearer {token}"}
    with app.app_context():
        db.engine.dispose()


def test_stored_xss_in_the_bulletin(committed_hostile):
    app, viewer = committed_hostile
    response = app.test_client().get("/api/v1/reports/bulletin", headers=viewer, query_string={
        "region": "T-KK", "datetime": "2026-07-01T00:00:00Z/2026-10-31T23:59:59Z",
        "f": "html"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_escaped(response.get_data(as_text=True), "bulletin")


def test_stored_xss_in_the_admin_pages(app, client, db_session, hostile, make_user):
    """What users send ends up in the admin's pages: a session's User-Agent, a token's
    name, the audit trail's before/after values (the hostile incident's)."""
    from app.auth.tokens import create_token

    victim = make_user("viewer")
    _, _ = create_token(db_session, victim, f"label {SCRIPT}")
    db_session.flush()
    other = app.test_client()
    other.post("/login", headers={"User-Agent": f"agent {SCRIPT}{IMG}"}, data={
        "username": victim.username, "password": "test-password-123",
        "csrf_token": csrf_token(other)})
    login(client, make_user("admin").username)
    pages = {path: client.get(path) for path in (
        "/admin", f"/admin/users/{victim.id}", "/admin/sessions", "/admin/audit")}
    shown = 0
    for path, response in pages.items():
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert_escaped(body, path, shown=False)
        shown += any(escaped in body for escaped in ESCAPED_SCRIPT)
    assert shown >= 2  # the token's name, the session's agent or the audit values


def test_stored_xss_in_json_is_data_not_markup(client, hostile, analyst):
    """The API returns the text as it was written (JSON strings are not HTML); the
    browser code renders it with textContent (checked in tests/e2e)."""
    feature = client.get(f"/api/v1/incidents/{hostile['incident']}", headers=analyst)
    assert feature.content_type in ("application/geo+json", "application/json")
    assert feature.get_json()["properties"]["description"] == f"notes {SCRIPT} {IMG}"
    assert feature.headers["X-Content-Type-Options"] == "nosniff"


def test_the_map_scripts_never_insert_html():
    """The map page shows every value with textContent: no script assigns HTML."""
    from config import BASE_DIR

    for script in sorted((BASE_DIR / "static" / "js").glob("*.js")):
        source = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                     "eval(", "new Function"):
            assert sink not in source, f"{script.name} uses {sink}"


@pytest.mark.parametrize("path", ["/login", "/api/v1/docs", "/"])
def test_reflected_markup_is_escaped(client, make_user, path):
    payload = f'"><{SCRIPT[1:]}{IMG}'
    if path != "/login":
        login(client, make_user("viewer").username)
    response = client.get(path, query_string={"next": payload, "lang": payload,
                                              "q": payload})
    assert response.status_code in (200, 302)
    assert_escaped(response.get_data(as_text=True), path, shown=False)


def test_login_form_echo_is_escaped(client):
    response = client.post("/login", data={"username": f"{SCRIPT}{IMG}", "password": "x",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert_escaped(body, "login form", shown=False)
    assert "&lt;script&gt;" in body or "&#34;" in body or "value=" in body


# --- CSRF --------------------------------------------------------------------------------

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def unsafe_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) of every unsafe route of the URL map (new forms included)."""
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        for method in sorted(set(rule.methods) & set(UNSAFE)):
            values = {}
            for name in rule.arguments:
                converter = type(rule._converters[name]).__name__
                values[name] = (1 if converter in ("IntegerConverter", "NumberConverter")
                                else "incidents" if name == "layer_name" else "x")
            routes.append((rule.endpoint, method, adapter.build(rule.endpoint, values,
                                                                method=method)))
    return routes


def test_unsafe_routes_are_enumerated(app):
    found = {(endpoint, method) for endpoint, method, _ in unsafe_routes(app)}
    assert {("auth.login", "POST"), ("auth.logout", "POST"), ("api.create_features", "POST"),
            ("api.update_feature", "PATCH"), ("api.delete_feature", "DELETE"),
            ("api.import_features", "POST")} <= found


def test_every_unsafe_route_needs_the_csrf_token_with_a_session(app, client, make_user,
                                                                 db_session, sample_layers):
    admin = make_user("admin")
    login(client, admin.username)
    token = csrf_token(client, "/")
    before = db_session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    for endpoint, method, url in unsafe_routes(app):
        if endpoint == "auth.login":
            continue  # below: a signed-in user's login form is not a session write
        response = client.open(url, method=method, json={"properties": {}})
        body = response.get_data(as_text=True)
        assert response.status_code == 400, (endpoint, method, response.status_code, body)
        assert "CSRF" in body, (endpoint, body)
        forged = client.open(url, method=method, json={"properties": {}},
                             headers={"X-CSRFToken": "forged-" + token[7:]})
        assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True), endpoint
    assert db_session.execute(text("SELECT count(*) FROM incidents")).scalar_one() == before
    # With the token the same requests get past the check (whatever they then answer).
    for endpoint, method, url in unsafe_routes(app):
        if endpoint in ("auth.login", "auth.logout"):
            continue
        response = client.open(url, method=method, json={"properties": {}},
                               headers={"X-CSRFToken": token})
        assert "CSRF" not in response.get_data(as_text=True), endpoint
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_login_form_needs_the_csrf_token(client, make_user):
    user = make_user("viewer")
    response = client.post("/login", data={"username": user.username,
                                           "password": "test-password-123"})
    assert response.status_code in (400, 401)
    assert client.get("/api/v1/incidents").status_code == 401  # not signed in
    login(client, user.username)  # the same credentials with the token do sign in
    assert client.get("/api/v1/incidents").status_code == 200


# --- SQL injection -----------------------------------------------------------------------

PAYLOADS = (
    "' OR 1=1--",
    "1;DROP TABLE incidents",
    "')) UNION SELECT id, username, password_hash FROM users--",
    "x' AND pg_sleep(0)::text='",
    '" OR ""="',
)
SQL_ERROR_TEXT = ("syntax error", "psycopg2", "sqlalchemy", "ProgrammingError",
                  "unterminated quoted", "LINE 1:", "Traceback", "pg_catalog",
                  "password_hash\":")


def table_counts(session) -> dict[str, int]:
    tables = session.execute(text(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")).scalars().all()
    return {t: session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in tables}


def assert_harmless(response, where: str) -> None:
    body = response.get_data().decode("utf-8", "replace")
    assert response.status_code < 500, (where, response.status_code, body[:300])
    for needle in SQL_ERROR_TEXT:
        assert needle not in body, (where, needle, body[:300])


BASE_QUERY = {
    "/api/v1/hotspots": {"region": "T-KK", "datetime": "2026-01-01T00:00:00Z/2026-12-31T00:00:00Z",
                         "cell_size": "5000"},
    "/api/v1/hotspots/emerging": {"region": "T-KK", "cell_size": "5000",
                                  "datetime": "2026-01-01T00:00:00Z/2026-12-31T00:00:00Z"},
    "/api/v1/hotspots/evaluate": {"region": "T-KK", "cell_size": "5000",
                                  "train": "2026-01-01T00:00:00Z/2026-06-30T00:00:00Z",
                                  "test": "2026-07-01T00:00:00Z/2026-12-31T00:00:00Z"},
    "/api/v1/risk/segments": {"region": "T-KK"},
    "/api/v1/alerts": {"region": "T-KK"},
    "/api/v1/reports/bulletin": {"region": "T-KK", "f": "html"},
}
SKIPPED_PATHS = {"/api/v1/openapi.json", "/api/v1/docs", "/healthz"}


def test_sql_injection_in_every_api_filter(client, db_session, sample_layers, analyst):
    document = client.get("/api/v1/openapi.json", headers=analyst).get_json()
    components = document["components"].get("parameters", {})
    before = table_counts(db_session)
    totals = {layer: client.get(f"/api/v1/{layer}", headers=analyst).get_json()["numberMatched"]
              for layer in LAYERS}
    tried = 0
    for path, operations in document["paths"].items():
        if "get" not in operations or path in SKIPPED_PATHS or "{" in path:
            continue
        base = BASE_QUERY.get(path, {})
        for parameter in operations["get"].get("parameters", []):
            if "$ref" in parameter:
                parameter = components[parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["in"] != "query":
                continue
            for payload in PAYLOADS:
                response = client.get(path, headers=analyst,
                                      query_string={**base, parameter["name"]: payload})
                assert_harmless(response, f"{path}?{parameter['name']}={payload}")
                tried += 1
                layer = path.rsplit("/", 1)[1]
                if response.status_code == 200 and layer in totals and (
                        response.content_type == "application/geo+json"):
                    assert response.get_json()["numberMatched"] <= totals[layer]
    assert tried > 200
    # Path parameters are typed: a payload there is no route.
    for payload in PAYLOADS:
        assert client.get(f"/api/v1/incidents/{payload}", headers=analyst).status_code == 404
    assert table_counts(db_session) == before


def test_sql_injection_in_ogc_features(client, db_session, sample_layers, analyst):
    before = table_counts(db_session)
    collections = client.get("/ogc/features/collections", headers=analyst).get_json()
    tried = 0
    for collection in collections["collections"]:
        name = collection["id"]
        url = f"/ogc/features/collections/{name}/items"
        total = client.get(url, headers=analyst).get_json()["numberMatched"]
        queryables = client.get(f"/ogc/features/collections/{name}/queryables",
                                headers=analyst).get_json()["properties"]
        for parameter in ("bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "f",
                          "sortby", *queryables):
            for payload in PAYLOADS:
                response = client.get(url, headers=analyst, query_string={parameter: payload})
                assert_harmless(response, f"{url}?{parameter}={payload}")
                tried += 1
                if response.status_code == 200 and parameter in queryables:
                    assert response.get_json()["numberMatched"] == 0, (name, parameter)
                elif response.status_code == 200 and "json" in response.content_type:
                    assert response.get_json()["numberMatched"] <= total
        for payload in PAYLOADS:
            for path in (f"/ogc/features/collections/{payload}/items",
                         f"/ogc/features/collections/{name}/items/{payload}"):
                response = client.get(path, headers=analyst)
                assert_harmless(response, path)
                assert response.status_code in (400, 404)
    # The harmless twin of the payloads: a property filter does find its row.
    found = client.get("/ogc/features/collections/incidents/items", headers=analyst,
                       query_string={"external_id": "T-1"}).get_json()
    assert found["numberMatched"] == 1
    assert tried > 100
    assert table_counts(db_session) == before


WMS_PARAMETERS = ("LAYERS", "STYLES", "CRS", "BBOX", "WIDTH", "FORMAT", "TIME", "REGION",
                  "CATEGORY", "OUTCOME", "QUERY_LAYERS", "INFO_FORMAT", "I", "FEATURE_COUNT",
                  "VERSION", "REQUEST", "EXCEPTIONS", "BGCOLOR", "TRANSPARENT")


def test_sql_injection_in_wms_and_tiles(client, db_session, sample_layers, analyst):
    before = table_counts(db_session)
    base = {"SERVICE": "WMS", "VERSION": "1.3.0", "LAYERS": "incidents",
            "QUERY_LAYERS": "incidents", "STYLES": "", "CRS": "CRS:84",
            "BBOX": "44.9,41.2,45.1,41.4", "WIDTH": "64", "HEIGHT": "64", "I": "32", "J": "32",
            "FORMAT": "image/png", "INFO_FORMAT": "application/json"}
    for request in ("GetMap", "GetFeatureInfo"):
        for parameter in WMS_PARAMETERS:
            for payload in PAYLOADS:
                response = client.get("/ogc/wms", headers=analyst, query_string={
                    **base, "REQUEST": request, parameter: payload})
                assert_harmless(response, f"WMS {request} {parameter}={payload}")
                if parameter in ("REGION", "CATEGORY", "OUTCOME", "LAYERS", "CRS", "BBOX"):
                    assert response.status_code == 400, (request, parameter)
    for layer in ("incidents", "border_segments", "regions"):
        for parameter in ("datetime", "time", "category", "status"):
            for payload in PAYLOADS:
                response = client.get(f"/ogc/tiles/{layer}/10/680/378.mvt", headers=analyst,
                                      query_string={parameter: payload})
                assert_harmless(response, f"tile {layer} {parameter}={payload}")
        for payload in PAYLOADS:
            assert client.get(f"/ogc/tiles/{payload}/0/0/0.mvt",
                              headers=analyst).status_code in (400, 404)
    assert table_counts(db_session) == before


# --- path traversal in import file names ---------------------------------------------------

INCIDENTS_GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
     "properties": {"external_id": "PT-1", "occurred_at": "2026-09-01T08:00:00Z",
                    "category": "illegal_crossing_between_bcp"}}]}).encode()
HOSTILE_NAMES = ("../../etc/passwd.geojson", "/etc/passwd.geojson", "..\\..\\x.geojson",
                 "a\x00.geojson", "....//....//x.geojson", "%2e%2e%2fx.geojson",
                 "/proc/self/environ", "C:\\Windows\\x.geojson")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """The import runs with its temporary files under ``tmp/`` and the working directory
    two levels down, so anything written by a traversal lands in ``tmp_path``."""
    temp = tmp_path / "tmp"
    work = tmp_path / "a" / "b"
    temp.mkdir()
    work.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(work)
    return tmp_path


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_upload_names_are_neutralised(client, sample_layers, analyst, sandbox, name):
    response = client.post("/api/v1/import/incidents", headers=analyst, data={
        "file": (io.BytesIO(INCIDENTS_GEOJSON), name), "format": "geojson", "dry_run": "true"})
    assert_harmless(response, name)
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    if response.status_code == 200:
        assert response.get_json()["inserted"] == 1
    assert files_under(sandbox) == []  # the temporary file is gone, nothing else written
    assert not Path("/etc/passwd.geojson").exists()


def shapefile_zip(members: dict[str, bytes] | None = None, prefix: str = "") -> bytes:
    """A zipped Shapefile of one synthetic incident; ``members`` adds files by name."""
    frame = gpd.GeoDataFrame(
        {"ext_id": ["Z-1"], "date": ["2026-09-01T08:00:00Z"],
         "type": ["illegal_crossing_between_bcp"]},
        geometry=[shapely.Point(45.01, 41.32)], crs="EPSG:4326")
    with tempfile.TemporaryDirectory() as folder:
        frame.to_file(Path(folder) / "incidents.shp", engine="pyogrio")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(folder).iterdir()):
                archive.writestr(zipfile.ZipInfo(prefix + path.name), path.read_bytes())
            for name, data in (members or {}).items():
                archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def post_zip(client, headers, data: bytes, name: str = "incidents.zip"):
    return client.post("/api/v1/import/incidents", headers=headers, data={
        "file": (io.BytesIO(data), name), "dry_run": "true", "source": "zip-test",
        "mapping": "external_id=ext_id"})


def test_a_clean_zipped_shapefile_imports(client, sample_layers, analyst):
    response = post_zip(client, analyst, shapefile_zip())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["inserted"] == 1


@pytest.mark.parametrize("member", ["../x.shp", "../../etc/x.dbf", "/abs/x.prj",
                                    "dir/../../x.cpg", "..\\x.shx", "C:/x.shp"])
def test_zip_members_with_paths_out_of_the_archive_are_refused(client, sample_layers,
                                                               analyst, sandbox, member):
    response = post_zip(client, analyst, shapefile_zip({member: b"x"}))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "path out of the archive" in response.get_json()["detail"]
    assert files_under(sandbox) == []


def test_nested_zips_are_refused(client, sample_layers, analyst):
    inner = shapefile_zip()
    response = post_zip(client, analyst, shapefile_zip({"inner.zip": inner}))
    assert response.status_code == 422
    assert "nested archives" in response.get_json()["detail"]
    only_inner = io.BytesIO()
    with zipfile.ZipFile(only_inner, "w") as archive:
        archive.writestr("data.zip", inner)
    response = post_zip(client, analyst, only_inner.getvalue())
    assert response.status_code == 422


def zeros_zip(size: int, members: int = 1) -> bytes:
    """A zip whose members are ``size`` bytes of zeros in all (streamed, never in memory
    whole), next to a small valid Shapefile."""
    buffer = io.BytesIO(shapefile_zip())
    chunk = bytes(16 * 1024 * 1024)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for index in range(members):
            left = size // members
            with archive.open(f"padding{index}.dbf", "w", force_zip64=True) as stream:
                while left > 0:
                    stream.write(chunk[:min(left, len(chunk))])
                    left -= len(chunk)
    return buffer.getvalue()


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """The zip with the uncompressed size of member ``name`` declared as ``size`` bytes
    (< 4 GiB) in its local and central headers: what a bomb of that size declares."""
    data = bytearray(data)
    encoded = name.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at:start + name_at + len(encoded)] == encoded:
                data[start + size_at:start + size_at + 4] = size.to_bytes(4, "little")
            start += 4
    return bytes(data)


def test_a_zip_bomb_is_413_with_bounded_memory(app, client, sample_layers, analyst,
                                               monkeypatch):
    # 256 MiB of zeros in ~260 kB, against a limit of 64 MiB.
    monkeypatch.setitem(app.config, "IMPORT_MAX_UNZIPPED_BYTES", 64 * 1024 * 1024)
    bomb = zeros_zip(256 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    response = post_zip(client, analyst, bomb)
    assert response.status_code == 413, response.get_data(as_text=True)
    body = response.get_json()
    assert body["field"] == "file"
    assert "would expand to 256 MiB, more than the limit of 64 MiB" in body["detail"]
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 100  # nothing was expanded


def test_a_zip_declaring_gigabytes_is_413_at_the_default_limit(client, sample_layers,
                                                               analyst):
    small = shapefile_zip({"padding.dbf": bytes(1000)})
    assert post_zip(client, analyst, small).status_code == 200
    bomb = declare_size(small, "padding.dbf", 4_000_000_000)
    assert zipfile.ZipFile(io.BytesIO(bomb)).getinfo("padding.dbf").file_size == 4_000_000_000
    response = post_zip(client, analyst, bomb)
    assert response.status_code == 413, response.get_data(as_text=True)
    assert "more than the limit of 1,024 MiB" in response.get_json()["detail"]


def test_the_unzipped_limit_is_a_setting(app, client, sample_layers, analyst, monkeypatch):
    data = zeros_zip(8 * 1024 * 1024, members=4)
    assert post_zip(client, analyst, data).status_code == 200  # under the default limit
    monkeypatch.setitem(app.config, "IMPORT_MAX_UNZIPPED_BYTES", 4 * 1024 * 1024)
    response = post_zip(client, analyst, data)
    assert response.status_code == 413
    assert "IMPORT_MAX_UNZIPPED_MB" in response.get_json()["detail"]


def test_a_zip_of_many_members_is_refused(client, sample_layers, analyst):
    data = shapefile_zip({f"extra{n}.txt": b"" for n in range(100)})
    response = post_zip(client, analyst, data)
    assert response.status_code == 422
    assert "at most" in response.get_json()["detail"]


def test_an_oversize_upload_is_413(app, client, sample_layers, analyst, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    # Written out by hand: the test client would spool a large form to a temporary file
    # that a refused request leaves open.
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.geojson"'
            b"\r\nContent-Type: application/geo+json\r\n\r\n" + b" " * (2 * 1024 * 1024)
            + b"\r\n--b--\r\n")
    response = client.post("/api/v1/import/incidents", headers=analyst, data=body,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert re.search(r"(?i)too large|exceed|limit", response.get_json()["detail"])
