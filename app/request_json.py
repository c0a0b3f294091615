"""Request bodies as JSON, with nesting bounded.

Python's ``json`` parser recurses once per level: a body nested some thousand levels
deep raises ``RecursionError``, which Flask does not count as bad JSON (a 500). Here it
is a ``ValueError``, so ``request.get_json()`` answers 400 like any other unreadable
body; and any body deeper than ``MAX_JSON_DEPTH`` is refused before it reaches code
that walks it again (geometry builders recurse too).
"""

from __future__ import annotations

import json

from flask.json.provider import DefaultJSONProvider

# GeoJSON needs 4 levels of arrays for a MultiPolygon's coordinates, inside a feature
# inside a collection: 32 leaves room for any real document.
MAX_JSON_DEPTH = 32


def json_depth(value) -> int:
    """Levels of arrays and objects in a parsed JSON value (a scalar: 0)."""
    depth, level = 0, [value]
    while level:
        children = []
        for item in level:
            if isinstance(item, dict):
                children.extend(item.values())
            elif isinstance(item, list):
                children.extend(item)
        if children or any(isinstance(item, dict | list) for item in level):
            depth += 1
        level = [child for child in children if isinstance(child, dict | list)]
    return depth


def loads_bounded(text: str | bytes, **kwargs):
    """``json.loads`` that raises ``ValueError`` (never ``RecursionError``) for invalid
    text and for nesting deeper than ``MAX_JSON_DEPTH``."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose ``loads`` (``request.get_json()``) is :func:`loads_bounded`."""

    def loads(self, s, **kwargs):
        return loads_bounded(s, **kwargs)
