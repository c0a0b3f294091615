"""Our static files at versioned, immutable addresses (``app.ui.assets``), the map
page's module graph preloaded at once, and the sign-in page prefetching it."""

import gc
import re
import warnings

import pytest

from app.ui import assets
from config import BASE_DIR
from tests.app.ui.test_ui import sign_in

STATIC = BASE_DIR / "static"
ASSET = re.compile(r'(?:href|src)="(/assets/([0-9a-f]{12})/([^"]+))"')


def fetch(client, url):
    """A file's answer, its file closed (send_file answers hold it open)."""
    answer = client.get(url)
    answer.get_data()  # read into the answer
    answer.close()
    return answer


def test_a_page_names_its_files_by_version_and_they_are_immutable(client):
    page = client.get("/login").get_data(as_text=True)
    found = {name: (url, version) for url, version, name in ASSET.findall(page)}
    url, version = found["css/app.css"]
    assert version == assets.static_version(STATIC)
    answer = fetch(client, url)
    assert answer.status_code == 200
    assert answer.data == (STATIC / "css" / "app.css").read_bytes()
    cache = answer.headers["Cache-Control"]
    assert "immutable" in cache and "max-age=31536000" in cache and "public" in cache
    assert "no-store" not in cache
    # No login needed: the same files as /static/, which the sign-in page itself uses.
    assert fetch(client, url.replace("css/app.css", "js/map.js")).status_code == 200


def test_another_version_gets_the_current_file_revalidated_never_kept(client):
    answer = fetch(client, "/assets/000000000000/css/app.css")
    assert answer.status_code == 200
    assert answer.data == (STATIC / "css" / "app.css").read_bytes()
    assert "immutable" not in answer.headers["Cache-Control"]
    assert "max-age" not in answer.headers["Cache-Control"]
    assert answer.headers.get("ETag") or answer.headers.get("Last-Modified")
    version = assets.static_version(STATIC)
    assert fetch(client, f"/assets/{version}/../config.py").status_code == 404
    assert fetch(client, f"/assets/{version}/js/none.js").status_code == 404


def test_an_abandoned_answer_leaves_no_file_open(client, make_user):
    """What a browser may leave unread (a prefetch cancelled by a navigation, a range
    request for a preloaded module) holds no open file for the garbage collector: the
    e2e suite, which turns warnings into errors, met "unclosed file" otherwise."""
    version = assets.static_version(STATIC)
    sign_in(client, make_user, "viewer")
    urls = [f"/assets/{version}/js/map.js", "/assets/000000000000/js/map.js",
            "/vendor/leaflet/leaflet.js"]
    whole = fetch(client, urls[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for url in urls:
            for headers in ({}, {"Range": "bytes=0-9"},
                            {"If-None-Match": whole.headers["ETag"]}):
                answer = client.get(url, headers=headers)
                assert answer.status_code in (200, 206, 304), (url, headers)
                if headers.get("Range") and url.startswith("/assets/"):
                    assert answer.status_code == 206
                    assert answer.get_data() == (STATIC / "js" / "map.js").read_bytes()[:10]
                del answer  # neither read nor closed
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
    assert client.get(urls[0], headers={"If-None-Match": whole.headers["ETag"]}
                      ).status_code == 304
    assert fetch(client, "/vendor/leaflet/../../package.json").status_code == 404


def test_the_map_page_preloads_its_whole_module_graph_without_inline_script(client,
                                                                           make_user):
    sign_in(client, make_user, "viewer")
    page = client.get("/").get_data(as_text=True)
    preloaded = re.findall(r'<link rel="modulepreload" href="/assets/[0-9a-f]{12}/([^"]+)">',
                           page)
    every = {f"js/{path.name}" for path in (STATIC / "js").glob("*.js")} - {"js/api-docs.js"}
    assert set(preloaded) == every and len(preloaded) == len(every)
    # the page's modules, and the one of its first requests, run as soon as it is in
    scripts = re.findall(r'<script type="module"( async)? src="/assets/[0-9a-f]{12}/([^"]+)"',
                         page)
    assert scripts == [("", "js/map.js"), ("", "js/layout.js"), (" async", "js/startup.js")]
    assert page.index('id="workspace"') < page.index("js/startup.js\"></script>")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # CSP: script-src 'self'
    # the sign-in page fetches them into the cache while the password is typed
    client.post("/logout", data={"csrf_token": re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)})
    login = client.get("/login").get_data(as_text=True)
    assert set(re.findall(r'<link rel="prefetch" href="/assets/[0-9a-f]{12}/([^"]+)">',
                          login)) == every


def test_the_module_graph_follows_static_imports_only(tmp_path):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "main.js").write_text(
        'import {\n  a,\n  b,\n} from "./a.js";\nimport "./side.js";\n'
        'export { c } from "./lib/c.js";\n// import x from "./commented.js";\n'
        'const later = () => import("./lazy.js");\nconst s = "./not-a-module.js";\n')
    (tmp_path / "js" / "a.js").write_text('import { c } from "./lib/c.js";\n')
    (tmp_path / "js" / "side.js").write_text("")
    (tmp_path / "js" / "lib").mkdir()
    (tmp_path / "js" / "lib" / "c.js").write_text('import { a } from "../a.js";\n')
    assert assets.module_graph(tmp_path, "js/main.js") == [
        "js/main.js", "js/a.js", "js/side.js", "js/lib/c.js"]


def test_the_version_changes_with_any_file_and_only_then(tmp_path, monkeypatch):
    monkeypatch.setattr(assets, "RECHECK_S", 0.0)
    (tmp_path / "a.js").write_text("one")
    first = assets.static_version(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    assert assets.static_version(tmp_path) == first
    (tmp_path / "a.js").write_text("two")
    assert assets.static_version(tmp_path) != first
    (tmp_path / "a.js").write_text("one")
    assert assets.static_version(tmp_path) == first


@pytest.mark.parametrize("name", ["base.html", "index.html", "login.html", "api_docs.html",
                                  "admin/base.html"])
def test_no_page_names_a_static_file_without_its_version(name):
    assert "url_for('static'" not in (BASE_DIR / "app" / "templates" / name).read_text()
