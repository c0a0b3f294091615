"""gunicorn's ``post_worker_init`` (``app/gunicorn_conf.py``) makes a worker's map
renderer ready: the countries basemap's datasource read and this thread's map of the
default view built, so the worker's first WMS basemap reads no file. Real apps, real
mapnik objects; each test in a thread of its own (the renderer's maps are per thread)."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

from app import gunicorn_conf
from geo.maps import render
from tests.conftest import make_app

# The basemap request of the map page (static/js/wms.js): EPSG:3857, default style.
BASEMAP = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "countries",
           "STYLES": "", "CRS": "EPSG:3857", "BBOX": "4400000,5000000,5300000,5450000",
           "WIDTH": "585", "HEIGHT": "400", "FORMAT": "image/png", "TRANSPARENT": "FALSE"}


def in_a_new_thread(function):
    """``function()``'s result or error, run in a fresh thread (empty per-thread maps)."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def worker_of(app) -> SimpleNamespace:
    """What ``post_worker_init`` reads of a gunicorn worker: its loaded app and its log."""
    return SimpleNamespace(wsgi=app, log=logging.getLogger("test.gunicorn.worker"))


def test_the_first_basemap_of_a_warmed_worker_reads_no_file(app, client, analyst):
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    key = (database_url, "epsg:3857", (("countries", "default", ""),))
    render.countries_datasource.cache_clear()

    def warm_then_draw():
        assert key not in render._MAPS.maps
        gunicorn_conf.post_worker_init(worker_of(app))
        warmed = render._MAPS.maps.get(key)
        loads = render.countries_datasource.cache_info().misses
        response = client.get("/ogc/wms", query_string=BASEMAP, headers=analyst)
        return warmed, loads, response, render._MAPS.maps.get(key)

    warmed, loads, response, drawn_with = in_a_new_thread(warm_then_draw)
    assert warmed is not None, "the warm-up built no map of the default basemap"
    assert loads == 1  # the datasource read once, by the warm-up
    assert response.status_code == 200, response.data[:300]
    assert response.content_type == "image/png"
    # The request drew with the warm-up's map and datasource: nothing built or read again.
    assert drawn_with is warmed
    info = render.countries_datasource.cache_info()
    assert (info.misses, info.hits) == (1, 1)  # read by the warm-up, used by the request
    assert warmed.layers[0].datasource is render.countries_datasource()


def test_the_warm_up_opens_no_database_connection(caplog):
    """A worker whose database cannot be reached warms up all the same (nothing logged):
    the warm-up never connects, so it may run before a fork too."""
    unreachable = "postgresql://nobody@127.0.0.1:9/nowhere"  # the discard port: refused
    app = make_app(unreachable)
    key = (unreachable, "epsg:3857", (("countries", "default", ""),))
    with caplog.at_level(logging.WARNING):
        warmed = in_a_new_thread(lambda: (gunicorn_conf.post_worker_init(worker_of(app)),
                                          render._MAPS.maps.get(key))[1])
    assert warmed is not None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_failed_warm_up_is_logged_and_the_worker_goes_on(app, caplog, monkeypatch):
    """A basemap file that cannot be read: the worker logs it and starts (its first map
    will say why); the hook raises nothing that would stop gunicorn's worker."""
    render.countries_datasource.cache_clear()
    monkeypatch.setattr(render, "COUNTRIES_TOPOJSON",
                        render.COUNTRIES_TOPOJSON.with_name("no-such-file.json"))
    with caplog.at_level(logging.ERROR, logger="test.gunicorn.worker"):
        in_a_new_thread(lambda: gunicorn_conf.post_worker_init(worker_of(app)))
    render.countries_datasource.cache_clear()
    assert any("warm-up failed" in r.getMessage() for r in caplog.records)
