"""Export files as HTTP answers that a client cannot mistake for complete when cut.

A streamed export (the CSV of a layer or of the audit trail) has sent its 200 and its
first rows before it reads the last. When the database fails mid-way, :func:`streamed_file`
logs the cause and lets the exception propagate to the WSGI server, which then ends the
transfer as incomplete: gunicorn's workers shut the socket down and werkzeug's server
stops, both without the chunked body's final chunk, which curl, requests, browsers and
GDAL report as an error. Swallowing the exception would end the body cleanly: a short
file that looks whole.

A chunked body needs HTTP/1.1. To an HTTP/1.0 client (nginx's default
``proxy_http_version``, ApacheBench) a body without
``Content-Length`` ends where the connection closes, so a cut would look complete: such a
client gets the file spooled whole to disk first and sent with ``Content-Length``, and a
database failure meanwhile is the usual 503. docs/reliability.md says what is guaranteed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from flask import Response, current_app, request, stream_with_context

from app.errors import first_line

# Request protocols whose responses cannot be chunked (no way to mark a cut body).
_UNCHUNKED_PROTOCOLS = ("HTTP/1.0", "HTTP/0.9")


def _attachment(filename: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def streamed_file(chunks: Iterator[str | bytes], *, what: str, mimetype: str,
                  filename: str) -> Response:
    """An attachment made of ``chunks`` (text is UTF-8 encoded), streamed as they come.

    ``what`` names the export in the log line written when it is cut (e.g.
    ``"incidents (csv)"``). To an HTTP/1.0 client the file is sent whole, with its
    ``Content-Length``, after every chunk was made (see the module docstring).
    """
    if request.environ.get("SERVER_PROTOCOL") in _UNCHUNKED_PROTOCOLS:
        spool = tempfile.TemporaryFile()  # noqa: SIM115  # on disk: exports can be large
        try:
            for chunk in chunks:
                spool.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        except BaseException:
            spool.close()
            raise
        return whole_file(spool, mimetype=mimetype, filename=filename)
    return Response(stream_with_context(_logged_when_cut(chunks, what)), mimetype=mimetype,
                    headers=_attachment(filename))


def whole_file(stream: BinaryIO, *, mimetype: str, filename: str) -> Response:
    """An attachment of a file already written whole, with its ``Content-Length``; the
    response closes ``stream`` when it is done (or the client went away)."""
    size = stream.seek(0, os.SEEK_END)  # not fstat: it misses what is still buffered
    stream.seek(0)
    return Response(_FileChunks(stream), mimetype=mimetype,
                    headers={**_attachment(filename), "Content-Length": str(size)},
                    direct_passthrough=True)


class _FileChunks:
    """A file's bytes in 1 MiB blocks; closed at its end, or by the response's close()
    (a HEAD request, a client gone), whichever comes first."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with self.stream:
            yield from iter(lambda: self.stream.read(1 << 20), b"")

    def close(self) -> None:
        self.stream.close()


def _logged_when_cut(chunks: Iterator[str | bytes], what: str) -> Iterator[bytes]:
    sent = 0
    try:
        for chunk in chunks:
            data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
            yield data
            sent += len(data)
    except Exception as exc:
        current_app.logger.warning(
            "export of %s cut after %d bytes, the client gets an incomplete transfer: "
            "%s: %s", what, sent, type(exc).__name__, first_line(exc))
        raise  # the server then ends the transfer without its final chunk
