"""What QGIS 3.22 and GDAL 3.6 (Debian 12's) cost a GIS user (issue 20): requests and
seconds for a full read of the demo's incidents through OGC API Features, before and
after ``/api`` declares ``limit`` (default 10, maximum 10,000) under
``components/parameters``, and GDAL with and without ``-oo PAGE_SIZE=1000``; and the
time QGIS takes to load and draw Georgia from each service with a token as the HTTP
Basic password.

Run: ``.venv/bin/python -m bench.qgis_bench [--incidents 50000] [--skip-gdal-default]``
(needs ``python3-qgis`` and ``gdal-bin``: ``scripts/install-system-packages.sh --test``).

In one run, on a throwaway database with the demo (``bench.hotspot_bench.setup``: N
synthetic incidents), the app is served by werkzeug (threaded) in this process on
loopback, every request recorded (``testsupport.qgis.RequestLog``). *Before* is the
same server with its ``/api`` document rewritten as it was (``limit`` inline, no
maximum, nothing under ``components/parameters``): the only difference between the
two. The clients run as subprocesses: PyQGIS under Debian's ``/usr/bin/python3``
(``testsupport.qgis.run_pyqgis``, a Basic auth configuration holding the token) and
``ogr2ogr`` (``GDAL_HTTP_AUTH=BASIC``, ``GDAL_HTTP_USERPWD=token:<token>``) writing
GeoJSONSeq, whose lines are counted.

1. **QGIS OAPIF**: open ``incidents`` and iterate every feature; requests to its items,
   the page size (``limit``) QGIS asked for, seconds to open and to read.
2. **GDAL OAPIF**: ``ogr2ogr`` of ``incidents`` with ``-oo PAGE_SIZE=1000`` and without
   (GDAL 3.6 pages at 10 whatever ``/api`` says; ``--skip-gdal-default`` skips that
   5,000-request run).
3. **QGIS layers**: per service (WMS ``incidents``, OAPIF ``incidents``, vector tiles
   ``incidents``), seconds to load the layer and to draw Georgia at 768 x 768 pixels in
   Web Mercator, and the requests it made.

Prints tables; docs/benchmarks.md records the numbers ("Issue 20").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # noqa: S404  # ogr2ogr with fixed arguments
import tempfile
import time

from bench.hotspot_bench import setup
from testsupport.apps import serving
from testsupport.qgis import RequestLog, run_pyqgis

ITEMS = "/collections/incidents/items"


def as_before(document: dict) -> dict:
    """The ``/api`` document as it was before issue 20: ``limit`` inline in each items
    path, with a default and no maximum, and no ``components/parameters``."""
    limit = dict(document["components"]["parameters"].pop("limit"))
    limit["schema"] = {key: value for key, value in limit["schema"].items()
                       if key != "maximum"}
    for path in document["paths"].values():
        parameters = path["get"].get("parameters", [])
        path["get"]["parameters"] = [
            limit if p == {"$ref": "#/components/parameters/limit"} else p
            for p in parameters]
    if not document["components"]["parameters"]:
        del document["components"]["parameters"]
    return document


class ApiRewrite:
    """A WSGI middleware that serves ``/ogc/features/api`` as :func:`as_before` while
    ``before`` is True."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.before = False

    def __call__(self, environ, start_response):
        if not self.before or environ.get("PATH_INFO") != "/ogc/features/api":
            return self.wsgi_app(environ, start_response)
        answer = {}

        def capture(status, headers, exc_info=None):
            answer.update(status=status, headers=headers)

        body = b"".join(self.wsgi_app(environ, capture))
        if answer["status"].startswith("200"):
            body = json.dumps(as_before(json.loads(body))).encode()
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


QGIS_FULL_READ = r'''
import time
from qgis.core import QgsVectorLayer
add_basic_auth("brtoken", "token", ARGS["token"])
started = time.perf_counter()
layer = QgsVectorLayer(f"url='{ARGS['url']}/ogc/features' typename='incidents' "
                       "authcfg='brtoken'", "incidents", "OAPIF")
opened = time.perf_counter()
count = sum(1 for _ in layer.getFeatures()) if layer.isValid() else None
emit({"valid": layer.isValid(), "features": count, "open_s": opened - started,
      "read_s": time.perf_counter() - opened})
'''

QGIS_LAYER_DRAW = r'''
import time
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsRasterLayer,
                       QgsRectangle, QgsVectorLayer, QgsVectorTileLayer)
add_basic_auth("brtoken", "token", ARGS["token"])
url, kind = ARGS["url"], ARGS["kind"]
started = time.perf_counter()
if kind == "wms":
    layer = QgsRasterLayer("authcfg=brtoken&crs=EPSG:3857&format=image/png&layers=incidents"
                           f"&styles=&url={url}/ogc/wms", "incidents", "wms")
elif kind == "oapif":
    layer = QgsVectorLayer(f"url='{url}/ogc/features' typename='incidents' "
                           "authcfg='brtoken'", "incidents", "OAPIF")
else:
    layer = QgsVectorTileLayer(f"type=xyz&url={url}/ogc/tiles/incidents/{{z}}/{{x}}/{{y}}.mvt"
                               "&zmin=0&zmax=14&authcfg=brtoken", "incidents")
loaded = time.perf_counter()
mercator = QgsCoordinateReferenceSystem("EPSG:3857")
georgia = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), mercator,
                                 QgsProject.instance()).transformBoundingBox(
                                     QgsRectangle(39.9, 41.0, 46.8, 43.6))
drawn, _ = render([layer], extent=georgia, crs=mercator, size=768)
emit({"valid": layer.isValid(), "load_s": loaded - started,
      "draw_s": time.perf_counter() - loaded, "drawn_pixels": drawn})
'''


def qgis_full_read(url: str, token: str, log: RequestLog) -> dict:
    log.clear()
    seen = run_pyqgis(QGIS_FULL_READ, {"url": url, "token": token}, timeout_s=1800)
    items = log.matching(ITEMS)
    return {**seen, "requests": len(log.requests), "item_requests": len(items),
            "page_sizes": sorted({r.query.get("limit", ["?"])[0] for r in items}, key=len)}


def gdal_full_read(url: str, token: str, log: RequestLog, *options: str) -> dict:
    log.clear()
    environment = {**os.environ, "GDAL_HTTP_AUTH": "BASIC",
                   "GDAL_HTTP_USERPWD": f"token:{token}"}
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "incidents.geojsonl")
        started = time.perf_counter()
        subprocess.run(["ogr2ogr", "-f", "GeoJSONSeq", *options, out,  # noqa: S603, S607
                        f"OAPIF:{url}/ogc/features", "incidents"],
                       env=environment, check=True, capture_output=True, timeout=3600)
        seconds = time.perf_counter() - started
        with open(out) as lines:
            features = sum(1 for _ in lines)
    items = log.matching(ITEMS)
    return {"features": features, "seconds": seconds, "requests": len(log.requests),
            "item_requests": len(items),
            "page_sizes": sorted({r.query.get("limit", ["?"])[0] for r in items}, key=len)}


def qgis_layer(url: str, token: str, log: RequestLog, kind: str) -> dict:
    log.clear()
    seen = run_pyqgis(QGIS_LAYER_DRAW, {"url": url, "token": token, "kind": kind},
                      timeout_s=1800)
    return {**seen, "requests": len(log.requests),
            "refused": sum(1 for r in log.requests if r.status >= 400)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--skip-gdal-default", action="store_true",
                        help="skip GDAL's run without PAGE_SIZE (5,000 requests at 50,000)")
    options = parser.parse_args()

    databases, app, headers = setup(options.incidents)
    token = headers["Authorization"].split(" ", 1)[1]
    log = RequestLog()
    rewrite = None

    def wrap(wsgi_app):
        nonlocal rewrite
        rewrite = ApiRewrite(wsgi_app)
        return log.wrap(rewrite)

    try:
        with serving(app, wrap=wrap) as url:
            print(f"\nFull read of {options.incidents:,} incidents (OGC API Features)")
            print(f"{'client':<36}{'features':>9}{'requests':>9}{'items':>7}"
                  f"{'limits':>10}{'seconds':>9}")

            def row(label, result, seconds):
                print(f"{label:<36}{result['features']:>9,}{result['requests']:>9}"
                      f"{result['item_requests']:>7}{','.join(result['page_sizes']):>10}"
                      f"{seconds:>9.1f}")

            for before in (True, False):
                rewrite.before = before
                result = qgis_full_read(url, token, log)
                row(f"QGIS 3.22, /api {'before' if before else 'after'}", result,
                    result["open_s"] + result["read_s"])
            rewrite.before = False
            result = gdal_full_read(url, token, log, "-oo", "PAGE_SIZE=1000")
            row("GDAL 3.6 ogr2ogr -oo PAGE_SIZE=1000", result, result["seconds"])
            if not options.skip_gdal_default:
                result = gdal_full_read(url, token, log)
                row("GDAL 3.6 ogr2ogr (default)", result, result["seconds"])

            print("\nQGIS 3.22: load a layer and draw Georgia (768 x 768, EPSG:3857), "
                  "token as the Basic password")
            print(f"{'layer':<22}{'valid':>6}{'load s':>8}{'draw s':>8}{'requests':>9}"
                  f"{'refused':>8}{'pixels':>8}")
            for kind, label in (("wms", "WMS incidents"), ("oapif", "OAPIF incidents"),
                                ("tiles", "vector tiles incidents")):
                seen = qgis_layer(url, token, log, kind)
                print(f"{label:<22}{seen['valid']!s:>6}{seen['load_s']:>8.2f}"
                      f"{seen['draw_s']:>8.2f}{seen['requests']:>9}{seen['refused']:>8}"
                      f"{seen['drawn_pixels']:>8}")
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        databases.drop_all()


if __name__ == "__main__":
    main()
