"""MapServer's WMS as a WSGI app, the peer of ``bench/wms_bench.py``.

Runs under Debian's python3 + ``python3-mapscript`` and Debian's gunicorn (not the
project's virtualenv)::

    MAPFILE=/tmp/borderrisk.map /usr/bin/gunicorn -w 2 -b 127.0.0.1:8601 \
        --chdir bench/mapserver mapscript_wsgi:application

Each worker parses the mapfile once and clones it per request (OWSDispatch changes the
map's extent, size and layer states). The layers use ``PROCESSING
"CLOSE_CONNECTION=DEFER"``, so MapServer's connection pool keeps one PostGIS connection
per worker open between requests, as a tuned MapServer (FastCGI) does.
"""

import os

import mapscript

TEMPLATE = mapscript.mapObj(os.environ["MAPFILE"])


def application(environ, start_response):
    request = mapscript.OWSRequest()
    request.loadParamsFromURL(environ.get("QUERY_STRING", ""))
    mapscript.msIO_installStdoutToBuffer()
    try:
        TEMPLATE.clone().OWSDispatch(request)
        content_type = mapscript.msIO_stripStdoutBufferContentType()
        body = mapscript.msIO_getStdoutBufferBytes()
    finally:
        mapscript.msIO_resetHandlers()
    start_response("200 OK", [("Content-Type", content_type),
                              ("Content-Length", str(len(body)))])
    return [body]
