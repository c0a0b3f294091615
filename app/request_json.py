"""Request bodies as JSON, with nesting bounded and text readable.

Python's ``json`` parser recurses once per level: a body nested some thousand levels
deep raises ``RecursionError``, which Flask does not count as bad JSON (a 500). Here it
is a ``ValueError``, so ``request.get_json()`` answers 400 like any other unreadable
body; and any body deeper than ``MAX_JSON_DEPTH`` is refused before it reaches code
that walks it again (geometry builders recurse too). A body read with
``request.get_json()`` whose keys or strings hold a NUL character or a lone surrogate
(``"\\ud800"``, which no UTF-8 database can store) is refused naming the member, before
a view hands it to the database.
"""

from __future__ import annotations

import json

from flask.json.provider import DefaultJSONProvider

from geo.io.validation import quoted, unreadable_reason

# GeoJSON needs 4 levels of arrays for a MultiPolygon's coordinates, inside a feature
# inside a collection: 32 leaves room for any real document.
MAX_JSON_DEPTH = 32


def json_depth(value) -> int:
    """Levels of arrays and objects in a parsed JSON value (a scalar: 0), counted
    without recursion."""
    depth, level = 0, [value]
    while level := [item for item in level if isinstance(item, dict | list)]:
        depth += 1
        level = [child for item in level
                 for child in (item.values() if isinstance(item, dict) else item)]
    return depth


def loads_bounded(text: str | bytes, **kwargs):
    """``json.loads`` that raises ``ValueError`` (never ``RecursionError``) for invalid
    text and for nesting deeper than ``MAX_JSON_DEPTH``."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):  # Python's advice is not the client's
            raise ValueError("a number has more than 4,300 digits") from None
        raise
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


class UnreadableJSONTextError(Exception):
    """A member of a JSON body holds text no database can store; ``field`` names it as a
    dotted path (``sections.0.name``). Not a ``ValueError``: ``get_json(silent=True)``
    must not turn it into "no body"."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{quoted(field)} {reason}")
        self.field = repr(field)[1:-1]  # escaped: the answer must carry no such text


def refuse_unreadable_text(value, path: str = "") -> None:
    """Raise :class:`UnreadableJSONTextError` for the first key or string of a parsed JSON
    value (walked without recursion) that :func:`geo.io.validation.unreadable_reason` refuses."""
    pending = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            reason = unreadable_reason(item)
            if reason is not None:
                raise UnreadableJSONTextError(where or "body", reason)
        elif isinstance(item, dict):
            for key, child in item.items():
                member = f"{where}.{key}" if where else str(key)
                reason = unreadable_reason(key)
                if reason is not None:
                    raise UnreadableJSONTextError(member, f"is a member name that {reason}")
                pending.append((member, child))
        elif isinstance(item, list):
            pending.extend((f"{where}.{i}" if where else str(i), child)
                           for i, child in enumerate(item))


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose ``loads`` (``request.get_json()``) is :func:`loads_bounded`
    followed by :func:`refuse_unreadable_text`."""

    def loads(self, s, **kwargs):
        value = loads_bounded(s, **kwargs)
        refuse_unreadable_text(value)
        return value
