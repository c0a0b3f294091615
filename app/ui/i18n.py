"""Languages of the analyst pages: English and Georgian, with Flask-Babel.

The language comes from ``?lang=`` (remembered in a cookie), then the cookie, then the
browser's Accept-Language, then English. Templates use ``_()``; the page's JavaScript
loads its strings from ``/ui/i18n.json`` (``JS_MESSAGES`` in ``app/ui/messages.py``,
English text as keys). The compiled catalogues (``.mo``) are not committed: ``make``
compiles them with pybabel, and start-up compiles any that is missing or older than its
``.po`` (e.g. a checkout run without ``make``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale, gettext, refresh

LANGUAGES = {"en": "English", "ka": "ქართული"}
DEFAULT_LANGUAGE = "en"
COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 86400
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"

babel = Babel()


def select_locale() -> str:
    """``?lang=``, then the ``lang`` cookie, then Accept-Language, then English; English
    outside a request (e.g. an ``AuthError`` raised under the ``flask`` CLI)."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    for candidate in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_locale() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def date_in_words(value, with_time: bool = False) -> str:
    """An instant (``datetime`` or ISO 8601 text, read in UTC) as a date in words in the
    current language: "1 November 2026" (with ``with_time``, "1 November 2026, 12:00");
    None and text that is no date are returned as they are."""
    from babel.dates import format_date, format_datetime

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if with_time:
        return format_datetime(value, "d MMMM y, HH:mm", tzinfo=UTC, locale=current_locale())
    return format_date(value.astimezone(UTC).date(), "d MMMM y", locale=current_locale())


def remember_language(response, code: str) -> None:
    response.set_cookie(COOKIE, code, max_age=COOKIE_MAX_AGE_S, samesite="Lax",
                        httponly=True, secure=request.is_secure)


def js_catalogue() -> dict[str, str]:
    """English text -> text in the current language, for every string of our JS."""
    from app.ui.messages import JS_MESSAGES

    return {message: gettext(message) for message in JS_MESSAGES}


def incident_labels() -> dict:
    """An incident's field names and coded values as a person reads them, in the current
    language: ``{"fields": {name: label}, "values": {name: {code: label}}}``."""
    from app.ui.messages import INCIDENT_FIELD_LABELS, INCIDENT_VALUE_LABELS

    return {"fields": {name: gettext(label) for name, label in INCIDENT_FIELD_LABELS.items()},
            "values": {name: {code: gettext(label) for code, label in labels.items()}
                       for name, labels in INCIDENT_VALUE_LABELS.items()}}


def feature_labels() -> dict:
    """The coded values of regions, border sections and crossing points in words, in
    the current language: ``{"values": {name: {code: label}}}``."""
    from app.ui.messages import FEATURE_VALUE_LABELS

    return {"values": {name: {code: gettext(label) for code, label in labels.items()}
                       for name, labels in FEATURE_VALUE_LABELS.items()}}


def risk_factor_labels() -> dict:
    """The risk factors' names, unit templates and coded values in the current language:
    ``{name: {"name", "unit", "scale", "digits", "values": {code: label}}}``."""
    from app.ui.messages import RISK_FACTOR_LABELS, RISK_FACTOR_VALUE_LABELS

    return {name: {"name": gettext(label["name"]),
                   "unit": gettext(label["unit"]) if label["unit"] != "{value}" else "{value}",
                   "scale": label.get("scale", 1), "digits": label.get("digits", 0),
                   "values": {code: gettext(text) for code, text in
                              RISK_FACTOR_VALUE_LABELS.get(name, {}).items()}}
            for name, label in RISK_FACTOR_LABELS.items()}


def risk_factor_text(name: str, value, days: float) -> tuple[str, str]:
    """A risk factor's name and its value with its unit in the current language, as the
    map page's panel shows them (``RISK_FACTOR_LABELS``; ``days`` is the model's
    reference period): ``("Incidents per km of section", "0.35 incidents/km per 30
    days")``. A factor without a label keeps its key and its value as it is."""
    from babel.numbers import format_decimal

    from app.ui.messages import RISK_FACTOR_LABELS, RISK_FACTOR_VALUE_LABELS

    label = RISK_FACTOR_LABELS.get(name)
    if label is None:
        return name, "–" if value is None else str(value)
    locale = current_locale()

    def number(amount, digits=0):
        return format_decimal(round(amount, digits), format=f"#,##0.{'#' * digits}"
                              if digits else "#,##0", locale=locale)

    if value is None:
        shown = "–"
    elif isinstance(value, bool) or isinstance(value, str):
        code = str(value).lower() if isinstance(value, bool) else value
        shown = gettext(RISK_FACTOR_VALUE_LABELS.get(name, {}).get(code, code))
    else:
        shown = number(value * label.get("scale", 1), label.get("digits", 0))
    unit = gettext(label["unit"]) if label["unit"] != "{value}" else "{value}"
    return (gettext(label["name"]),
            unit.replace("{value}", shown).replace("{days}", number(days)))


def locale_formats(code: str) -> dict:
    """Number symbols and month names of a language (CLDR, from Babel).

    The page formats with the browser's ``Intl``; these are its fallback where the
    browser has no data for the language (e.g. a Chromium built without Georgian).
    """
    from babel import Locale

    locale = Locale.parse(code)
    symbols = locale.number_symbols["latn"]
    return {
        "decimal": symbols["decimal"], "group": symbols["group"],
        "months": [locale.months["format"]["wide"][m] for m in range(1, 13)],
        "standalone_months": [locale.months["stand-alone"]["wide"][m] for m in range(1, 13)],
    }


def compile_catalogues(directory: Path = TRANSLATIONS_DIR) -> list[Path]:
    """Compile each ``messages.po`` whose ``messages.mo`` is missing or older.

    Returns the ``.mo`` files written (an empty list when all were current).
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as stream:
            catalog = read_po(stream, locale=po_path.parent.parent.name)
        with mo_path.open("wb") as stream:
            write_mo(stream, catalog)
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    try:
        compile_catalogues()
    except OSError as exc:  # a read-only checkout: the pages then stay in English
        app.logger.warning("could not compile the translations: %s", exc)
    babel.init_app(app, default_locale=DEFAULT_LANGUAGE, locale_selector=select_locale,
                   default_translation_directories=str(TRANSLATIONS_DIR))

    # The language is decided anew per request, even when an app context (and the locale
    # Flask-Babel caches in it) outlives one request, as under the test client.
    app.before_request(refresh)

    @app.after_request
    def _remember_requested_language(response):
        code = request.args.get("lang")
        if code in LANGUAGES and request.cookies.get(COOKIE) != code:
            remember_language(response, code)
        return response

    app.add_template_filter(date_in_words)
    app.add_template_global(risk_factor_text)

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "current_language": current_locale()}
