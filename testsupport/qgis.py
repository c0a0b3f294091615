"""PyQGIS as a real client, for tests and benchmarks: Debian's QGIS 3.22 (``python3-qgis``,
``scripts/install-system-packages.sh --test``) run headless in a subprocess.

PyQGIS is Debian's, built for Debian's ``/usr/bin/python3``: it is never imported into
our ``.venv``. :func:`run_pyqgis` runs a script under that interpreter with
``QT_QPA_PLATFORM=offscreen``, a throwaway home, profile and authentication database
(master password set, so auth configurations can be stored), and returns what the
script handed to ``emit``. The script starts with a running ``QgsApplication`` and
these names defined (:data:`PRELUDE`):

- ``ARGS``: the ``args`` given to :func:`run_pyqgis` (JSON-able values);
- ``emit(value)``: the result (JSON-able), returned by :func:`run_pyqgis`;
- ``add_basic_auth(cfg_id, username, password)``: store a *Basic* auth configuration
  with that id (7 characters, as QGIS's ids are), as the README tells users to;
- ``render(layers, extent=None, crs=None, size=256)``: draw layers over ``extent``
  (a ``QgsRectangle`` in ``crs``: an authid such as ``"EPSG:4326"`` or a CRS; by default
  the project's CRS, else the first layer's, and that layer's extent) to an image and
  return how many of its pixels are not transparent, and the QGIS messages logged
  while drawing;
- ``messages``: every QGIS log message so far, as ``[tag, text]``.

:class:`RequestLog` records the requests a live server (``testsupport.apps.serving``)
answers, so a test or benchmark can count what the client asked for.
"""

from __future__ import annotations

import json
import os
import subprocess  # noqa: S404  # Debian's python3 with a fixed script
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

QGIS_PYTHON = "/usr/bin/python3"
_VENV_VARIABLES = frozenset({"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PROJ_LIB",
                             "PROJ_DATA", "GDAL_DATA", "GDAL_DRIVER_PATH"})
RESULT_MARK = "PYQGIS-RESULT:"

PRELUDE = r'''
import json, sys
from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsCoordinateReferenceSystem,
                       QgsMapRendererSequentialJob, QgsMapSettings, QgsProject)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

ARGS = json.loads(sys.argv[1])
_app = QgsApplication([], False)
_app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(
    lambda text, tag, level: messages.append([tag, text]))
if not QgsApplication.authManager().setMasterPassword("test-master-password", True):
    raise SystemExit("the QGIS authentication database refused its master password")


def emit(value):
    print("PYQGIS-RESULT:" + json.dumps(value), flush=True)


def add_basic_auth(cfg_id, username, password):
    # As README's "Open in QGIS" has the user do it.
    c = QgsAuthMethodConfig("Basic")
    c.setId(cfg_id)
    c.setName("BorderRisk token")
    c.setConfig("username", username)
    c.setConfig("password", password)
    if not QgsApplication.authManager().storeAuthenticationConfig(c):
        raise SystemExit("could not store the auth configuration " + cfg_id)


def render(layers, extent=None, crs=None, size=256):
    settings = QgsMapSettings()
    settings.setLayers(layers)
    if crs is None:
        crs = (QgsProject.instance().crs() if QgsProject.instance().crs().isValid()
               else layers[0].crs())
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(crs) if isinstance(crs, str)
                               else crs)
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    settings.setOutputSize(QSize(size, size))
    settings.setExtent(extent if extent is not None else layers[0].extent())
    before = len(messages)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    drawn = sum(1 for x in range(image.width()) for y in range(image.height())
                if image.pixelColor(x, y).alpha() > 0)
    return drawn, messages[before:]

'''


def run_pyqgis(script: str, args: dict | None = None, timeout_s: float = 600) -> object:
    """Run ``script`` (PyQGIS source, after :data:`PRELUDE`) in Debian's Python with a
    throwaway QGIS profile; return the value it passed to ``emit``.

    Raises ``AssertionError`` with the script's output when it fails or emits nothing
    (so a test shows what QGIS said), ``FileNotFoundError`` when ``python3-qgis`` is
    not installed.
    """
    if not Path(QGIS_PYTHON).exists():
        raise FileNotFoundError(f"{QGIS_PYTHON} not found: run "
                                "scripts/install-system-packages.sh --test (python3-qgis)")
    with tempfile.TemporaryDirectory(prefix="borderrisk-qgis-") as home:
        # Nothing of the venv's (its Python path, the PROJ/GDAL data its wheels bring).
        environment = {key: value for key, value in os.environ.items()
                       if key not in _VENV_VARIABLES}
        environment.update(HOME=home, XDG_RUNTIME_DIR=home, QT_QPA_PLATFORM="offscreen",
                           QGIS_AUTH_DB_DIR_PATH=home, QGIS_CUSTOM_CONFIG_PATH=home,
                           PATH="/usr/bin:/bin")
        os.chmod(home, 0o700)
        done = subprocess.run(  # noqa: S603  # fixed interpreter, our script
            [QGIS_PYTHON, "-c", PRELUDE + script, json.dumps(args or {})],
            env=environment, cwd=home, capture_output=True, text=True, timeout=timeout_s)
    results = [line[len(RESULT_MARK):] for line in done.stdout.splitlines()
               if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not results:
        raise AssertionError(f"PyQGIS exited with {done.returncode}:\n{done.stdout[-4000:]}\n"
                             f"{done.stderr[-4000:]}")
    return json.loads(results[-1])


@dataclass
class LoggedRequest:
    """One request a live server answered: method, path, query (parsed), status and
    seconds from the start of the log."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    at_s: float


@dataclass
class RequestLog:
    """A WSGI middleware that records every request ``app`` answers (thread-safe), for
    counting a client's requests (``testsupport.apps.serving(app, wrap=log.wrap)``)."""

    requests: list[LoggedRequest] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, wsgi_app):
        def logged(environ, start_response):
            def start(status, headers, exc_info=None):
                entry = LoggedRequest(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                                      parse_qs(environ.get("QUERY_STRING", "")),
                                      int(status.split()[0]),
                                      time.perf_counter() - self.started)
                with self._lock:
                    self.requests.append(entry)
                return start_response(status, headers, exc_info)
            return wsgi_app(environ, start)
        return logged

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.started = time.perf_counter()

    def matching(self, path_part: str) -> list[LoggedRequest]:
        """The requests whose path contains ``path_part``."""
        with self._lock:
            return [r for r in self.requests if path_part in r.path]
