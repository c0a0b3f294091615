"""An incident's releasability: to whom its originating agency releases it in detail.

Three forms, the same in JSON, in CSV and GeoPackage cells (text), and stored as
``jsonb`` in ``incidents.releasability`` and ``agencies.default_releasability``:

* ``"all"``: every agency of the ministry (the usual default);
* ``"agency"``: the originating agency only;
* a list of agency codes (``["PPD", "MD"]``; as text ``PPD,MD``): those agencies and the
  originator. Kept sorted and without repeats, so an export imports back unchanged.

Who sees what is decided in SQL by ``geo.scope.visibility_condition``; this module only
reads and writes the value.
"""

from __future__ import annotations

import json
import re

ALL = "all"
AGENCY = "agency"
WORDS = (ALL, AGENCY)
CODE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")  # geo.models.AGENCY_CODE_PATTERN
MAX_CODES = 64
HINT = '"all", "agency" or a list of agency codes such as ["PPD", "MD"]'

Releasability = str | list[str]


def parse(value) -> Releasability:
    """The releasability a client gives: ``"all"``, ``"agency"`` (any case), a list of
    agency codes, or their text (codes separated by commas; a JSON array too).

    Raises
    ------
    ValueError
        Anything else; the message says what is accepted. That the codes are agencies
        is checked against the database by the write (``geo.queries.staging``).
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in WORDS:
            return text.lower()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError(f"is not {HINT}") from None
        else:
            value = [part.strip() for part in text.split(",")]
    if not isinstance(value, list | tuple):
        raise ValueError(f"is not {HINT}")
    if not value:
        raise ValueError(f'lists no agency; give "agency" to keep it to its own agency, '
                         f'or {HINT}')
    if len(value) > MAX_CODES:
        raise ValueError(f"lists more than {MAX_CODES} agencies")
    bad = [code for code in value if not isinstance(code, str) or not CODE.match(code)]
    if bad:
        raise ValueError(f"{str(bad[0])[:40]!r} is not an agency code (upper-case letters "
                         f"and digits, such as PPD); expected {HINT}")
    return sorted(set(value))


def as_text(value: Releasability) -> str:
    """The text of a cell (CSV, GeoPackage): ``all``, ``agency`` or ``PPD,MD``."""
    return value if isinstance(value, str) else ",".join(value)


def as_json(value: Releasability) -> str:
    """The stored form: JSON text (``"all"``, ``["MD", "PPD"]``)."""
    return json.dumps(value)


def codes(value: Releasability) -> list[str]:
    """The agency codes a releasability names (none for ``"all"`` and ``"agency"``)."""
    return [] if isinstance(value, str) else list(value)
