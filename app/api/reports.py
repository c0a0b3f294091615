"""Reports: the regional risk bulletin as printable HTML or as PDF, counted for the
reader's agency (``geo.risk.bulletin``: no detail of a record the reader does not see)."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Response, current_app, render_template, request, url_for

from app.api import bp
from app.api.params import ParameterError
from app.api.problem_pages import browser_page
from app.api.risk import analysis_period
from app.api.scoping import scoped_region_code
from app.auth.scope import region_scope, viewer_agency
from app.extensions import db
from app.ui.i18n import current_locale
from geo import clock
from geo.products import periods
from geo.risk import bulletin

BULLETIN_FORMATS = ("html", "pdf")


@bp.get("/reports/bulletin")
@browser_page
def risk_bulletin():
    fmt = request.args.get("f") or "html"
    if fmt not in BULLETIN_FORMATS:
        raise ParameterError("f", f"unknown format {fmt!r}; formats: "
                                  f"{', '.join(BULLETIN_FORMATS)}")
    region = scoped_region_code(request.args.get("region"), default=True)
    period = analysis_period(request.args.get("datetime"))
    start, end = period.start, period.end
    content = bulletin.regional_bulletin(db.session, current_app.config["RISK_MODEL"], region,
                                         start, end, current_app.config["ANALYSIS_SRID"],
                                         scope=region_scope(),
                                         viewer_agency=viewer_agency(),
                                         period_source=period.source,
                                         partial=periods.is_partial(end, clock.utc_now()))
    # The PDF of this very bulletin, in the page's language (the link may be opened
    # without the cookie that chose it, e.g. forwarded).
    pdf_url = url_for(".risk_bulletin", **{**request.args.to_dict(), "f": "pdf",
                                            "lang": current_locale()})
    html = render_template("bulletin.html", bulletin=content, for_print=fmt == "pdf",
                           pdf_url=pdf_url)
    code = re.sub(r"[^A-Za-z0-9_-]", "_", content["region"]["code"])
    name = f"bulletin-{code}-{start:%Y%m%d}-{end:%Y%m%d}"
    if fmt == "html":
        return Response(html, mimetype="text/html", headers={
            "Content-Disposition": f'inline; filename="{name}.html"'})
    stylesheet = Path(current_app.static_folder) / "css" / "bulletin.css"
    return Response(bulletin.pdf_from_html(html, stylesheet), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
