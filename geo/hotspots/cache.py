"""Results of analyses (hot-spot maps, emerging hot-spots, forecasts, the sections'
outlooks) kept in memory, keyed by their request, the analysis CRS and the data stamps
of the tables they read (so a write makes them stale); and, behind the memory of each
process, in the database for every process and node (``geo.hotspots.analysis_results``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import asdict

import orjson

from geo import queries
from geo.hotspots import analysis_results
from geo.hotspots.output import JSON_OPTIONS

# ------------------------------------------------------------------ cache


class ResultCache:
    """Serialised results by (kind, parameters, data versions); least recently used out.

    Thread-safe. The stored bytes are returned as they are, so a repeated request is
    byte-identical. Bounded both by entries and by total size (bytes, default 512 MiB
    per process): one emerging result over 100k cells is ~110 MB, so a count alone
    would let a worker grow to gigabytes.
    """

    def __init__(self, max_entries: int = 32, max_bytes: int = 512 * 2**20):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(kind: str, request, versions: dict, srid: int) -> str:
        described = asdict(request) if hasattr(request, "__dataclass_fields__") else request
        return json.dumps([kind, described, versions, srid], sort_keys=True, default=str)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return  # larger than the whole cache: served, not kept
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._entries[key] = value
            self._size += len(value)
            while len(self._entries) > self.max_entries or self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size_bytes(self) -> int:
        """Total length of the kept results, in bytes."""
        return self._size


CACHE = ResultCache()


def cached(session, kind: str, request, srid: int, compute) -> bytes:
    """The JSON text of ``compute()`` for this request and the current data:
    ``compute()`` gives a result with ``to_json()`` (a ``pipeline.CellMap``) or a
    JSON-ready dict.

    Read from this process's memory, else from the shared results of ``session``'s
    database (``analysis_results.of``; not for a transaction that has written), else
    computed (once across processes) and kept in both. A result during whose computation
    the data changed is served but not kept: it may hold newer data than its key says.
    """
    stamps, wrote = queries.data_stamps(session)
    key = ResultCache.key(kind, request, stamps, srid)
    body = CACHE.get(key)
    if body is not None:
        return body

    def produce() -> tuple[bytes, bool]:
        result = compute()
        body = (result.to_json() if hasattr(result, "to_json")
                else orjson.dumps(result, option=JSON_OPTIONS))
        return body, queries.data_stamps(session)[0] == stamps

    shared = None if wrote else analysis_results.of(session)
    body, keep = produce() if shared is None else shared.fetch_or_compute(key, kind, produce)
    if keep:
        CACHE.put(key, body)
    return body
