"""Users: create, update, unlock, passwords and regions.

Every change to a user made here appends an audit record (``app.audit.record``) in the
caller's transaction; no record holds a password hash.

An ``AuthError``'s message is translated when raised (Flask-Babel ``gettext``): in the
request's language on a page, in English without a request (the ``flask`` CLI).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select, text

from app import audit
from app.auth.hashing import password_hasher
from app.auth.models import User, user_regions
from app.auth.sessions import revoke_sessions
from geo.models import Agency, Region
from geo.vocabulary import LEGACY_AGENCY, ROLES

MIN_PASSWORD_LENGTH = 8


class AuthError(ValueError):
    """Bad input to an auth operation; the message names the field."""


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


USERNAME_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-")


def user_snapshot(user: User) -> dict:
    """What the audit trail keeps of a user (never the password hash)."""
    return {"username": user.username, "role": user.role, "active": user.active,
            "agency": user.agency, "all_regions": user.all_regions,
            "regions": [region.code for region in user.regions],
            "locked_until": user.locked_until.isoformat() if user.locked_until else None}


def create_user(session, username: str, role: str, password: str,
                region_codes: list[str] | tuple[str, ...] = (), *,
                all_regions: bool | None = None, agency: str = LEGACY_AGENCY) -> User:
    """Add a user (not committed) and audit it.

    Parameters
    ----------
    agency : str
        The code of the user's agency (an active one); by default the Border Police
        (``geo.vocabulary.LEGACY_AGENCY``), for scripts and tests.
    region_codes : sequence of str
        The regions the user is restricted to.
    all_regions : bool, optional
        True: every region (then ``region_codes`` must be empty); False: exactly
        ``region_codes``, at least one (a new user who sees nothing is refused). None
        (the default of this function, for scripts and tests): every region when no
        code is given. The CLI and the admin page pass the choice made (a flag, a
        tick), so that their users choose one or the other.

    Raises
    ------
    AuthError
        A bad role, name, password or region; both regions and every region, or
        neither.
    """
    check_role(role)
    if not 1 <= len(username) <= 64 or not set(username) <= USERNAME_CHARACTERS:
        raise AuthError(_("username must be 1-64 letters, digits or _ . @ -, got %(name)s",
                          name=repr(username)))
    check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AuthError(_("username %(name)s is taken", name=repr(username)))
    member_agency(session, agency)
    regions = regions_by_code(session, region_codes)
    if all_regions is None:
        all_regions = not regions
    check_scope_choice(all_regions, regions)
    if not all_regions and not regions:
        raise AuthError(_("regions: choose the user's regions or all regions"))
    user = User(username=username, role=role, password_hash=password_hasher.hash(password),
                active=True, failed_logins=0, all_regions=all_regions, regions=regions,
                agency=agency)
    session.add(user)
    session.flush()
    audit.record(session, "create", "user", user.id, after=user_snapshot(user))
    return user


def agency_by_code(session, code: str) -> Agency:
    """The agency ``code``; AuthError (field ``agency``) listing the agencies if none."""
    agency = session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        known = ", ".join(session.scalars(select(Agency.code).order_by(Agency.code)))
        raise AuthError(_("agency: unknown code %(code)s; agencies are %(known)s",
                          code=repr(code)[:40], known=known))
    return agency


def member_agency(session, code: str) -> Agency:
    """The agency a user is given; AuthError (field ``agency``) unless it exists and is
    active."""
    agency = agency_by_code(session, code)
    if not agency.active:
        raise AuthError(_("agency: %(code)s is inactive; activate it first", code=code))
    return agency


def check_role(role: str) -> None:
    """AuthError unless ``role`` is one of ``ROLES``."""
    if role not in ROLES:
        raise AuthError(_("role must be one of %(roles)s, got %(role)s",
                          roles=", ".join(ROLES), role=repr(role)))


def check_scope_choice(all_regions: bool, regions: list[Region]) -> None:
    """AuthError for every region and some regions at once (which one was meant?)."""
    if all_regions and regions:
        raise AuthError(_("regions: choose either all regions or some regions, not both"))


def check_password(password: str) -> None:
    """AuthError when ``password`` is shorter than ``MIN_PASSWORD_LENGTH`` characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(_("password must be at least %(min)d characters",
                          min=MIN_PASSWORD_LENGTH))


def set_password(user: User, password: str) -> None:
    """Hash ``password`` into ``user`` (not audited: see ``reset_password``)."""
    check_password(password)
    user.password_hash = password_hasher.hash(password)


def reset_password(session, user: User, password: str) -> None:
    """Set a new password, end the user's sessions and audit it (without the hash)."""
    set_password(user, password)
    ended = revoke_sessions(session, user_id=user.id, audited=False)
    audit.record(session, "password", "user", user.id,
                 detail={"username": user.username, "sessions_ended": ended})


def regions_by_code(session, codes) -> list[Region]:
    """The regions with these codes, in code order; AuthError names unknown codes."""
    wanted = sorted({code.strip() for code in codes if code and code.strip()})
    if not wanted:
        return []
    regions = list(session.scalars(select(Region).where(Region.code.in_(wanted))
                                   .order_by(Region.code)))
    unknown = sorted(set(wanted) - {region.code for region in regions})
    if unknown:
        raise AuthError(_("region: unknown code(s) %(codes)s", codes=", ".join(unknown)))
    return regions


def all_regions(session) -> list[Region]:
    """Every regional unit, by code (for choosing a user's regions)."""
    return list(session.scalars(select(Region).order_by(Region.code)))


def user_by_name(session, username: str) -> User:
    """The user called ``username``; AuthError when there is none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(_("no user named %(name)s", name=repr(username)))
    return user


def list_users(session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def update_user(session, user: User, *, role: str | None = None, active: bool | None = None,
                region_codes: list[str] | None = None, all_regions: bool | None = None,
                agency: str | None = None, by: User | None = None) -> bool:
    """Change a user's role, active flag, agency and/or region scope, and audit the
    change.

    ``all_regions`` True gives every region (``region_codes`` must then be empty or
    None: the links are removed); False restricts the user to ``region_codes``, or to
    the regions they have when None. ``region_codes`` alone restricts the user to
    exactly those regions (an empty list: to none, the user sees nothing).

    Deactivating a user ends their sessions at once (their tokens stop working too: a
    token works only for an active user). An admin (``by``) cannot demote or deactivate
    themselves (nobody might be left to undo it). Returns whether anything changed.
    """
    if role is not None:
        check_role(role)
    if by is not None and by.id == user.id and (
            (role is not None and role != user.role) or active is False):
        raise AuthError(_("role/active: you cannot change your own role or deactivate "
                          "yourself; ask another admin"))
    before = user_snapshot(user)
    if role is not None:
        user.role = role
    if agency is not None and agency != user.agency:
        member_agency(session, agency)
        user.agency = agency
    if region_codes is not None or all_regions is not None:
        regions = (regions_by_code(session, region_codes) if region_codes is not None
                   else [] if all_regions else list(user.regions))
        check_scope_choice(bool(all_regions), regions)
        user.all_regions = bool(all_regions)
        user.regions = regions
    if active is not None:
        user.active = active
    after = user_snapshot(user)
    if after == before:
        return False
    session.flush()
    audit.record(session, "update", "user", user.id, before=before, after=after)
    if before["active"] and not after["active"]:
        revoke_sessions(session, user_id=user.id)
    return True


def unlock_user(session, user: User) -> bool:
    """Lift a sign-in lock-out and reset the failure count (audited); False if neither
    was set.

    ``locked_until`` becomes now rather than null: failures before it no longer count
    towards the next lock-out (``LoginPolicy``).
    """
    now = datetime.now(UTC)
    locked = user.locked_until is not None and user.locked_until > now
    if not locked and not user.failed_logins:
        return False
    before = user_snapshot(user)
    user.failed_logins = 0
    user.locked_until = now
    audit.record(session, "unlock", "user", user.id, before=before,
                 after=user_snapshot(user))
    return True


def users_linked_to_regions(session, region_ids) -> list[str]:
    """Names of the users restricted to any of these regions (sorted)."""
    return list(session.scalars(
        select(User.username).join(user_regions, user_regions.c.user_id == User.id)
        .where(user_regions.c.region_id.in_(list(region_ids)))
        .distinct().order_by(User.username)))


def scope_snapshots(session) -> dict[int, dict]:
    """:func:`user_snapshot` of every user restricted to regions, by id: compared by
    :func:`record_scope_changes` after a write that may rename or replace regions."""
    users = session.scalars(select(User).where(User.all_regions.is_(False)))
    return {user.id: user_snapshot(user) for user in users}


def record_scope_changes(session, before: dict[int, dict], cause: str) -> int:
    """Audit (``update`` of a ``user``, before/after, ``detail.cause``) every user whose
    snapshot differs from ``before`` (:func:`scope_snapshots`); returns how many.

    A user's scope is region ids, so renaming a region keeps it; the record says
    under which codes the user's regions are now known.
    """
    session.flush()
    session.expire_all()
    changed = 0
    for user_id, old in before.items():
        user = session.get(User, user_id)
        new = user_snapshot(user) if user is not None else None
        if new != old:
            audit.record(session, "update", "user", user_id, before=old, after=new,
                         detail={"cause": cause})
            changed += 1
    return changed


@contextmanager
def regions_kept_by_code(session, cause: str) -> Iterator[None]:
    """Keep every user's region links by region code across a block that deletes
    regions and loads them anew (``flask demo reset``), and audit any change.

    The links are taken out before the block (a region that users are linked to
    cannot be deleted) and put back after it to the regions that then have the same
    codes. A code that no longer exists is lost from the user's scope: the scope can
    only narrow (to nothing at worst), never widen, and the change is audited.
    """
    before = scope_snapshots(session)
    session.flush()
    links = session.execute(text(
        "SELECT ur.user_id, r.code FROM user_regions AS ur "
        "JOIN regions AS r ON r.id = ur.region_id")).all()
    session.execute(text("DELETE FROM user_regions"))
    yield
    if links:
        session.execute(text(
            "INSERT INTO user_regions (user_id, region_id) "
            "SELECT l.user_id, r.id FROM unnest(CAST(:users AS integer[]), "
            "CAST(:codes AS text[])) AS l(user_id, code) JOIN regions AS r USING (code) "
            "ON CONFLICT DO NOTHING"),
            {"users": [link.user_id for link in links], "codes": [link.code for link in links]})
    record_scope_changes(session, before, cause)
