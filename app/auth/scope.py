"""Region scope and agency: the regional units the current user may read and write,
and the agency whose releasability decisions apply to them.

A user with ``all_regions`` set is unrestricted; any other user is restricted to the
regions linked to them (``user_regions``), and a user linked to none sees no region:
"every region" is the explicit flag, never the absence of links. Every read path
filters by ``region_scope()`` and every write path refuses a feature outside it;
``None`` means unrestricted, an empty set means nothing.
"""

from __future__ import annotations

from flask_login import current_user


def region_scope() -> frozenset[int] | None:
    """Ids of the regions the current user is restricted to (possibly none); None when
    unrestricted (or when no user is signed in: the login check runs before any view)."""
    if not getattr(current_user, "is_authenticated", False) or current_user.all_regions:
        return None
    return frozenset(region.id for region in current_user.regions)


def region_codes_in_scope() -> tuple[str, ...] | None:
    """Codes of the current user's regions (sorted, possibly none); None when
    unrestricted."""
    if not getattr(current_user, "is_authenticated", False) or current_user.all_regions:
        return None
    return tuple(sorted(region.code for region in current_user.regions))


def viewer_agency() -> str | None:
    """The code of the current user's agency: what they see of other agencies'
    incidents (``geo.scope``; admins too: an originator's releasability binds every
    user). None when no user is signed in (the login check runs before any view)."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    return current_user.agency
