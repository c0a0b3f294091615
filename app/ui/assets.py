"""Our static files (``static/``) at addresses that carry their version, kept by
browsers for a year without asking again, and the module graph of a page's scripts
(for ``<link rel="modulepreload">``).

- **One version for the folder**: the SHA-256 (first 12 hex digits) of every file's
  name and contents, in the address: ``/assets/<version>/js/map.js``. The page's ES
  modules import each other by relative paths (``./api.js``), so every module of the
  graph is fetched under the page's version without any file naming it. A release that
  changes any file changes every address (the browser fetches them anew); one that
  changes none keeps them all.
- **Immutable**: an address of the current version is answered ``Cache-Control:
  public, max-age=31536000, immutable`` (RFC 8246: not revalidated on reload either).
  Another version (a page rendered by a node of the previous release during a rolling
  update) gets the current file, revalidated every time (``no-cache``): never kept under
  a version whose contents it is not. These are the files ``/static/`` serves to anyone
  (the sign-in page's style sheet among them): no data, no login needed.
- **Edits show at once**: the version is recomputed when a file's size or modification
  time changes (a ``stat`` of each of the ~40 files at most once a second), so a
  development server serves an edited script under a new address.
- **Module graph**: the relative ``import``/``export ... from "./x.js"`` of the entry
  modules, followed to the end, so that a page can ask for all its modules at once
  (``modulepreload``) instead of one level of imports after another. Dynamic
  ``import()`` is left out: what a page loads later is not preloaded.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from functools import lru_cache
from pathlib import Path

# A year: the longest lifetime caches honour (RFC 9111 recommends no more).
IMMUTABLE_MAX_AGE_S = 31_536_000
# How long a computed version is trusted before the files are looked at again.
RECHECK_S = 1.0
# `import ... from "./x.js"`, `import "./x.js"` and `export ... from "./x.js"`.
_STATIC_IMPORT = re.compile(
    r"""^\s*(?:(?:import|export)\b[^;'"]*?\bfrom|import)\s*["'](\.{1,2}/[^"']+\.js)["']""",
    re.MULTILINE)

_lock = threading.Lock()
_checked: dict[Path, tuple[float, str]] = {}


def _signature(folder: Path) -> tuple:
    """Each file's path, size and modification time (ns), sorted."""
    return tuple(sorted((path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns)
                        for path in folder.rglob("*") if path.is_file()
                        for stat in (path.stat(),)))


@lru_cache(maxsize=8)
def _version_of(folder: Path, signature: tuple) -> str:
    digest = hashlib.sha256()
    for name, _, _ in signature:
        digest.update(name.encode() + b"\0")
        digest.update((folder / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def static_version(folder: Path) -> str:
    """The version of the files under ``folder`` (12 hex digits of their SHA-256)."""
    now = time.monotonic()
    with _lock:
        checked = _checked.get(folder)
    if checked is not None and now - checked[0] < RECHECK_S:
        return checked[1]
    version = _version_of(folder, _signature(folder))
    with _lock:
        _checked[folder] = (now, version)
    return version


def module_graph(folder: Path, *entries: str) -> list[str]:
    """The modules ``entries`` (paths under ``folder``, e.g. ``js/map.js``) import,
    directly or not, with the entries themselves: paths under ``folder``, each once,
    in the order first reached."""
    return list(_module_graph(folder, static_version(folder), entries))


@lru_cache(maxsize=16)
def _module_graph(folder: Path, version: str, entries: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    pending = list(entries)
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        path = folder / name
        if not path.is_file():
            continue  # a missing module fails in the browser, with its name
        seen[name] = None
        base = Path(name).parent
        for target in _STATIC_IMPORT.findall(path.read_text(encoding="utf-8")):
            resolved = (folder / base / target).resolve()
            try:
                pending.append(resolved.relative_to(folder.resolve()).as_posix())
            except ValueError:
                continue  # outside the folder: not ours to preload
    return tuple(seen)
