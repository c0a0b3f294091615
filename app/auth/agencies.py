"""Agencies: list, create and change them (the admin page, ``/api/v1/agencies``, the
``flask agencies`` commands).

Every change appends an audit record (``app.audit.record``, entity ``agency``) in the
caller's transaction. An agency is never deleted: its users and records keep it; an
inactive one takes no new users. Bad input is an ``AuthError`` naming the field.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from app import audit
from app.auth.users import AuthError, agency_by_code  # noqa: F401  # re-exported
from geo import releasability
from geo.models import Agency

NAME_MAX = 200


def agency_view(agency: Agency) -> dict:
    """An agency as the API shows it and the audit trail keeps it."""
    return {"code": agency.code, "name_en": agency.name_en, "name_ka": agency.name_ka,
            "active": agency.active, "default_releasability": agency.default_releasability,
            "default_aggregate": agency.default_aggregate}


def list_agencies(session) -> list[Agency]:
    """Every agency, by code."""
    return list(session.scalars(select(Agency).order_by(Agency.code)))


def _name(field: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AuthError(_("%(field)s: is required (text)", field=field))
    value = value.strip()
    if len(value) > NAME_MAX or "\x00" in value:
        raise AuthError(_("%(field)s: must be at most %(max)d characters of text",
                          field=field, max=NAME_MAX))
    return value


def _flag(field: str, value) -> bool:
    if not isinstance(value, bool):
        raise AuthError(_("%(field)s: must be true or false", field=field))
    return value


def _releasability(session, value, own: str) -> releasability.Releasability:
    try:
        parsed = releasability.parse(value)
    except ValueError as problem:
        raise AuthError(f"default_releasability: {problem}") from None
    known = {a.code for a in list_agencies(session)} | {own}
    unknown = [code for code in releasability.codes(parsed) if code not in known]
    if unknown:
        raise AuthError(_("default_releasability: unknown agency code %(code)s",
                          code=repr(unknown[0])))
    return parsed


def create_agency(session, code: str, name_en: str, name_ka: str, *,
                  default_releasability="all", default_aggregate: bool = True,
                  active: bool = True) -> Agency:
    """Add an agency (not committed) and audit it."""
    if not isinstance(code, str) or not releasability.CODE.match(code):
        raise AuthError(_("code: must be 2-16 upper-case letters and digits starting "
                          "with a letter, such as RS, got %(code)s", code=repr(code)[:40]))
    if session.scalar(select(Agency.id).where(Agency.code == code)) is not None:
        raise AuthError(_("code: agency %(code)s exists already", code=code))
    agency = Agency(code=code, name_en=_name("name_en", name_en),
                    name_ka=_name("name_ka", name_ka), active=_flag("active", active),
                    default_releasability=_releasability(session, default_releasability, code),
                    default_aggregate=_flag("default_aggregate", default_aggregate))
    session.add(agency)
    session.flush()
    audit.record(session, "create", "agency", agency.code, after=agency_view(agency))
    return agency


def update_agency(session, agency: Agency, *, name_en: str | None = None,
                  name_ka: str | None = None, active: bool | None = None,
                  default_releasability=None, default_aggregate: bool | None = None) -> bool:
    """Change an agency's names, active flag or defaults (None: unchanged) and audit
    it; returns whether anything changed. Its code never changes (records name it)."""
    before = agency_view(agency)
    if name_en is not None:
        agency.name_en = _name("name_en", name_en)
    if name_ka is not None:
        agency.name_ka = _name("name_ka", name_ka)
    if active is not None:
        agency.active = _flag("active", active)
    if default_releasability is not None:
        agency.default_releasability = _releasability(session, default_releasability,
                                                      agency.code)
    if default_aggregate is not None:
        agency.default_aggregate = _flag("default_aggregate", default_aggregate)
    after = agency_view(agency)
    if after == before:
        return False
    session.flush()
    audit.record(session, "update", "agency", agency.code, before=before, after=after)
    return True
