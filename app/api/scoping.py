"""The caller's rights over data in the REST API: region scope and incident statuses.

``app.auth.permissions`` decides which routes a role may call; this module narrows what
a route does for the caller: the regions a request may name (``app.auth.scope``), the
scope handed to ``geo`` for reads and writes, and the incident statuses the caller may
not set. A region outside the scope is ``OutOfScopeError`` (403 problem+json naming
``region``).
"""

from __future__ import annotations

from flask_login import current_user

from app.api import ApiError
from app.auth.permissions import INCIDENT_STATUS_ROLES
from app.auth.scope import region_codes_in_scope, region_scope
from app.auth.users import users_linked_to_regions
from app.extensions import db
from geo.errors import OutOfScopeError, ParameterError
from geo.layers import Layer
from geo.scope import check_region


def scoped_region_code(value: str | None, *, default: bool) -> str | None:
    """The region code a request names, checked against the caller's region scope.

    Parameters
    ----------
    value : str or None
        The ``region`` the request gives (None or empty: none).
    default : bool
        For a restricted caller who gives none: True answers their only region (and
        refuses with 422, listing theirs, when they have several, and with 403 when
        they have none), as the analyses that work on one region need; False answers
        None (the caller's whole scope).

    Returns
    -------
    str or None
        The code to use; for an unrestricted caller the value as given.

    Raises
    ------
    OutOfScopeError
        A restricted caller named a region that is not theirs (whether it exists or
        not: the answer does not reveal other regions), or needs one and has none.
    ParameterError
        A restricted caller with several regions gave none where one is needed.
    """
    codes = region_codes_in_scope()
    if codes is None:
        return value or None
    if value:
        check_region(value, codes)
        return value
    if not default:
        return None
    if not codes:
        raise OutOfScopeError("region", "you are linked to no region: ask an admin")
    if len(codes) == 1:
        return codes[0]
    raise ParameterError("region", f"is required: you work in several regions; give one "
                                   f"of {', '.join(codes)}")


def refuse_reference_write_when_scoped(layer: Layer) -> None:
    """403 for a restricted caller writing the regions layer: its regions are the
    limits of its rights, not something it may redraw or add to."""
    if layer.name == "regions" and region_scope() is not None:
        raise ApiError(403, "Forbidden", "regions: a user restricted to regions cannot "
                                         "create, change, delete or import regions")


def refuse_deleting_linked_region(region_id: int) -> None:
    """409 naming the users restricted to this region: deleting it would change their
    scope (the database refuses it too, ``user_regions`` ON DELETE RESTRICT)."""
    users = users_linked_to_regions(db.session, [region_id])
    if users:
        raise ApiError(409, "Conflict", f"regions feature {region_id} is the region of "
                                        f"users {', '.join(users)}: give them other "
                                        "regions first; nothing was deleted",
                       field="id", users=users)


def refuse_other_agencys_record(layer: Layer, feature: dict) -> None:
    """403 for a caller other than an admin deleting an incident (``feature``, GeoJSON)
    of another agency: an agency edits its own records (``geo.io.ingest`` checks the
    same for PATCH, create and import)."""
    agency = feature["properties"].get("agency") if layer.releasable else None
    if agency is not None and agency != current_user.agency \
            and not current_user.has_role("admin"):
        raise ApiError(403, "Forbidden", f"{layer.name} feature {feature['id']} is "
                                         f"{agency}'s: only its agency (or an admin) may "
                                         "delete it", field="agency")


def forbidden_statuses(layer: Layer) -> dict[str, str]:
    """Incident statuses the caller may not set, each with the role that may."""
    if layer.name != "incidents":
        return {}
    return {status: role for status, role in INCIDENT_STATUS_ROLES.items()
            if not current_user.has_role(role)}


def write_rights(layer: Layer) -> dict:
    """The keyword arguments of ``geo.io.ingest`` that carry the caller's rights: their
    regions, the statuses above their role, and their agency: new incidents are its
    records, records it does not see are conflicts, only its records may be changed
    (by anyone but an admin) and only its records' releasability (by anyone)."""
    agency = current_user.agency
    return {"scope_region_ids": region_scope(), "forbidden_statuses": forbidden_statuses(layer),
            "agency": agency, "viewer_agency": agency, "release_agency": agency,
            "edit_agency": None if current_user.has_role("admin") else agency}
