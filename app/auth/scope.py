"""Region scope: the regional units the current user may read and write.

A user linked to regions (``user_regions``) is restricted to them; a user linked to none
sees every region. Every read path filters by ``region_scope()`` and every write path
refuses (403) a feature outside it; ``None`` means unrestricted.
"""

from __future__ import annotations

from flask_login import current_user


def region_scope() -> frozenset[int] | None:
    """Ids of the regions the current user is restricted to; None when unrestricted
    (or when no user is signed in: the login check runs before any view)."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    regions = current_user.regions
    return frozenset(region.id for region in regions) if regions else None


def region_codes_in_scope() -> tuple[str, ...] | None:
    """Codes of the current user's regions (sorted); None when unrestricted."""
    if not getattr(current_user, "is_authenticated", False) or not current_user.regions:
        return None
    return tuple(sorted(region.code for region in current_user.regions))
