"""What a caller may see, decided in one place: the region scope and the agencies'
releasability.

A scope is the set of region ids a user is restricted to (``app.auth.scope``), or None
for an unrestricted user; an empty set sees nothing. Every read path applies it through
these functions: in SQL by the layer's ``scope_column`` (``geo.layers``: regions by
``id``, the other layers by ``region_id``), and for a region a request names by
:func:`check_region`, whose refusal reveals nothing of other regions (the same answer
whether the region exists or not).

Releasability (``geo.releasability``): a caller of an agency sees an incident in detail
when the incident is its agency's, or released to all, or to that agency by name
(:func:`visibility_condition`). A record not visible in detail may still be *counted* in
aggregate products (hot-spot grids, density, risk scores, bulletins' counts) when its
``aggregate`` flag is set (:func:`counted_condition`); it never appears as a feature.
The caller's agency None (an admin, the system) sees every record.
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.errors import OutOfScopeError
from geo.layers import Layer

Scope = frozenset[int] | None


def scope_condition(layer: Layer, parameter: str = "scope_region_ids",
                    alias: str = "") -> str:
    """The SQL condition keeping ``layer``'s features of the scope (``alias``: the
    table's, e.g. ``"t."``), bound to the integer array parameter ``parameter`` (its
    value: :func:`scope_parameter`).

    Raises
    ------
    ValueError
        The layer is not cut by region (its ``scope_column`` is None).
    """
    if layer.scope_column is None:
        raise ValueError(f"layer {layer.name!r} has no region scope column")
    return f"{alias}{layer.scope_column} = ANY(:{parameter})"


def scope_parameter(scope: Iterable[int]) -> list[int]:
    """The value bound to :func:`scope_condition`'s parameter: the ids, sorted."""
    return sorted(int(region) for region in scope)


# The one rule of releasability, over an incidents row (``{row}``: its alias with a dot,
# or "") and the SQL expression of the viewer's agency code (``{viewer}``: a bound
# parameter, or a column such as ``a.code``).
_VISIBLE = ("({row}releasability = '\"all\"'::jsonb OR {row}agency = {viewer} "
            "OR {row}releasability ? {viewer})")
VIEWER_PARAMETER = "viewer_agency"


def visibility_condition(alias: str = "", viewer: str = f":{VIEWER_PARAMETER}") -> str:
    """SQL truth of "the viewer sees this incident in detail" (``alias``: the incidents
    table's, e.g. ``"i."``; ``viewer``: the SQL of the viewer's agency code, by default
    the bound parameter ``viewer_agency``)."""
    return _VISIBLE.format(row=alias, viewer=viewer)


def counted_condition(alias: str = "", viewer: str = f":{VIEWER_PARAMETER}") -> str:
    """SQL truth of "this incident counts in the viewer's aggregates": visible in
    detail, or its originator lets it be counted (``aggregate``)."""
    # The flag first: true for nearly every record, it spares most rows the jsonb
    # comparison (bench/visibility_bench.py; both columns are NOT NULL, so the order
    # changes nothing but the cost).
    return f"({alias}aggregate OR {visibility_condition(alias, viewer)})"


def in_scope(region_id: int, scope: Scope) -> bool:
    """Whether the region ``region_id`` is visible in ``scope`` (None: every region)."""
    return scope is None or region_id in scope


def check_region(code: str, codes_in_scope: tuple[str, ...] | None) -> None:
    """Refuse a region code a request names that is outside the caller's regions.

    Parameters
    ----------
    code : str
        The region code the request gives.
    codes_in_scope : tuple of str or None
        The codes of the caller's regions, sorted (None: unrestricted).

    Raises
    ------
    OutOfScopeError
        ``code`` is not one of ``codes_in_scope``; the message lists the caller's own
        regions only.
    """
    if codes_in_scope is not None and code not in codes_in_scope:
        raise OutOfScopeError("region", f"{code!r} is not one of your regions "
                                        f"({', '.join(codes_in_scope) or 'you have none'})")
