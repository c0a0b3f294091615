"""What a notification of an application event says, in any language.

A notification keeps its title and body twice: as English text (``title``, ``body``:
what e-mail sends, and what a reader gets when the message is unknown) and as message
ids with values (``message``: ``{"title": [msgid, values], "body": [msgid, values] or
null}``), which :func:`render` turns into the reader's language with the app's
catalogue (``app/translations``; the ids are marked here for ``pybabel extract``).

Values are kept raw and formatted when shown: numbers by the locale, a ``period``
(``[start, end)``, RFC 3339) as a month ("October 2026") or a date range, a ``level``
as the translated level name. User text (a decision's justification) is never a
message id: it is the body as written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from babel.dates import format_date
from babel.numbers import format_decimal


def N_(text: str) -> str:  # noqa: N802  (the gettext convention for "mark only")
    return text


ALERT_TITLE = N_("Alert: section %(section)s, %(observed)s incidents against %(expected)s "
                 "expected (%(period)s)")
ALERT_BODY = N_("More incidents than the section's history leads to expect (p = %(p)s).")
LEVEL_SET = N_("Section %(section)s: level set to %(level)s by %(who)s")
LEVEL_SET_ANONYMOUS = N_("Section %(section)s: level set to %(level)s")
LEVEL_LIFTED = N_("Section %(section)s: level decision lifted by %(who)s")
LEVEL_LIFTED_ANONYMOUS = N_("Section %(section)s: level decision lifted")
BULLETIN_WEEKLY = N_("Weekly bulletin of %(region)s (%(period)s)")
BULLETIN_MONTHLY = N_("Monthly bulletin of %(region)s (%(period)s)")
BULLETIN_WEEKLY_ALL = N_("Weekly bulletin of all regions (%(period)s)")
BULLETIN_MONTHLY_ALL = N_("Monthly bulletin of all regions (%(period)s)")

# Values formatted as levels (their names are in the catalogue: app.ui.messages).
LEVEL_VALUES = ("level",)
# Values formatted as numbers, with at most this many decimals.
NUMBER_VALUES = {"observed": 0, "expected": 1}


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_period(period, locale: str) -> str:
    """``[start, end)`` as the month it is ("October 2026") or its first and last days;
    each instant read in its own offset (the schedules' time zone)."""
    try:
        start, end = _instant(period[0]), _instant(period[1])
    except (TypeError, ValueError, IndexError):
        return str(period)
    midnight = {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}
    next_month = (start.replace(day=1, **midnight) + timedelta(days=32)).replace(day=1)
    if start == start.replace(day=1, **midnight) and end.replace(tzinfo=None) == \
            next_month.replace(tzinfo=None):
        return format_date(start.date(), "LLLL y", locale=locale)
    last = (end - timedelta(microseconds=1)).date()
    first = start.date()
    if first == last:
        return format_date(first, "d MMM y", locale=locale)
    return f"{format_date(first, 'd MMM y', locale=locale)} – " \
           f"{format_date(last, 'd MMM y', locale=locale)}"


def format_p(value, locale: str) -> str:
    """A p-value: "< 0.001" below a thousandth, else three decimals."""
    if not isinstance(value, int | float):
        return str(value)
    if value < 0.001:
        return "< " + format_decimal(0.001, format="0.###", locale=locale)
    return format_decimal(value, format="0.###", locale=locale)


def _value(name: str, value, locale: str, translate: Callable[[str], str]) -> str:
    if value is None:
        return "–"
    if name == "period":
        return format_period(value, locale)
    if name == "p":
        return format_p(value, locale)
    if name in LEVEL_VALUES:
        return translate(str(value))
    if name in NUMBER_VALUES and isinstance(value, int | float):
        digits = NUMBER_VALUES[name]
        return format_decimal(value, format="#,##0" + ("." + "#" * digits if digits else ""),
                              locale=locale)
    return str(value)


def render_one(part, locale: str = "en", translate: Callable[[str], str] = str) -> str | None:
    """``[msgid, values]`` in ``locale`` (``translate``: the catalogue's gettext, the
    identity for English); None when ``part`` is not such a pair."""
    if not (isinstance(part, list | tuple) and len(part) == 2 and isinstance(part[0], str)
            and isinstance(part[1], dict)):
        return None
    msgid, values = part
    formatted = {name: _value(name, value, locale, translate) for name, value in values.items()}
    try:
        return translate(msgid) % formatted
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
        return msgid % formatted


def render(notification: dict, locale: str = "en",
           translate: Callable[[str], str] = str) -> tuple[str, str]:
    """(title, body) of a notification row (``title``, ``body``, ``message``) in
    ``locale``; the stored English text where there is no message."""
    message = notification.get("message") or {}
    title = render_one(message.get("title"), locale, translate) or notification["title"]
    body = render_one(message.get("body"), locale, translate)
    return title, notification["body"] if body is None else body


# --- the messages of each application event ---------------------------------------------


def _safe_link(value) -> str | None:
    """A link a notification may carry: a path of this service, or an http(s) URL."""
    if not isinstance(value, str) or len(value) > 2000:
        return None
    if value.startswith("/") and not value.startswith("//"):
        return value
    if value.startswith(("https://", "http://")):
        return value
    return None


def _workspace_link(data: dict) -> str:
    from urllib.parse import urlencode

    params = {}
    if data.get("region_code"):
        params["region"] = data["region_code"]
    if data.get("section_id") is not None:
        params["section"] = data["section_id"]
    return "/?" + urlencode(params) if params else "/"


def alert_message(data: dict) -> dict:
    values = {"section": data.get("section_code"), "observed": data.get("observed"),
              "expected": data.get("expected"), "period": data.get("period")}
    return {"title": [ALERT_TITLE, values], "body": [ALERT_BODY, {"p": data.get("p_value")}]}


def decision_message(data: dict) -> dict:
    who = data.get("decided_by")
    level = data.get("level")
    values = {"section": data.get("section_code")}
    if who:
        values["who"] = who
    if level:
        values["level"] = level
        msgid = LEVEL_SET if who else LEVEL_SET_ANONYMOUS
    else:
        msgid = LEVEL_LIFTED if who else LEVEL_LIFTED_ANONYMOUS
    return {"title": [msgid, values], "body": None}


def bulletin_message(data: dict) -> dict:
    monthly = data.get("product") == "monthly"
    region = data.get("region_code")
    if region:
        msgid = BULLETIN_MONTHLY if monthly else BULLETIN_WEEKLY
        values = {"region": region, "period": data.get("period")}
    else:
        msgid = BULLETIN_MONTHLY_ALL if monthly else BULLETIN_WEEKLY_ALL
        values = {"period": data.get("period")}
    return {"title": [msgid, values], "body": None}


def bulletin_link(data: dict) -> str:
    from urllib.parse import urlencode

    links = data.get("links") if isinstance(data.get("links"), dict) else {}
    for name in ("html", "self", "pdf"):
        link = links.get(name)
        link = link.get("href") if isinstance(link, dict) else link
        if _safe_link(link):
            return link
    params = {"f": "html"}
    if data.get("region_code"):
        params["region"] = data["region_code"]
    period = data.get("period")
    if isinstance(period, list) and len(period) == 2:
        params["datetime"] = f"{period[0]}/{period[1]}"
    return "/api/v1/reports/bulletin?" + urlencode(params)


def describe(event_type: str, data: dict) -> dict | None:
    """What a notification of an application event says: ``kind``, ``title`` and
    ``body`` (English), ``link``, ``message`` and ``actor`` (the user name of who caused
    it, who is not told of their own act); None for an event the inbox does not tell."""
    data = data if isinstance(data, dict) else {}
    if event_type == "alert.raised":
        kind, message, link, body_text = "alert", alert_message(data), _workspace_link(data), None
    elif event_type == "level.decided":
        kind, message, link = "decision", decision_message(data), _workspace_link(data)
        body_text = str(data.get("justification") or "")
    elif event_type == "bulletin.published":
        kind, message, link, body_text = ("bulletin", bulletin_message(data),
                                          bulletin_link(data), "")
    else:
        return None
    title, body = render({"title": "", "body": body_text or "", "message": message})
    actor = data.get("decided_by") if event_type == "level.decided" else None
    return {"kind": kind, "title": title, "body": body, "link": link, "message": message,
            "actor": actor}
