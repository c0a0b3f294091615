"""The regional risk bulletin on the synthetic demo: the ranked table, the map, the PDF,
stored versus live assessments, decisions, escaping and parameter errors."""

import base64
import html as html_module
import re
import struct
from urllib.parse import parse_qs

import pytest
from sqlalchemy import text

from app.extensions import db
from app.ui.messages import RISK_FACTOR_LABELS
from geo import clock
from geo.risk.risk_config import config_hash
from tests.conftest import role_headers
from tests.pdf_text import pdf_text_runs

JUNE = "2026-06-01T00:00:00Z/2026-06-29T23:59:59Z"
MAY = "2026-05-01T00:00:00Z/2026-05-31T23:59:59Z"
# Regions and periods no other test stores an assessment for (the demo database is shared).
LIVE_REGION, STORED_REGION = "GE-AJ", "GE-SJ"
URL = "/api/v1/reports/bulletin"


@pytest.fixture(scope="module")
def staff(demo_app):
    """Bearer headers of a viewer, an analyst and a supervisor on the demo database."""
    app, viewer, _ = demo_app
    return {"viewer": viewer, **role_headers(app, "bulletin")}


def get(demo_app, headers, **query):
    return demo_app[0].test_client().get(URL, headers=headers, query_string=query)


def ranked_table(html: str) -> list[tuple[int, str, str]]:
    """(rank, section code, level) of each row of the ranked table, in page order."""
    table = html[html.index('<table class="ranked">'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r'<tr class="level-(\w+)">\s*<td>(\d+)</td>\s*<td><span class="code">'
                      r"([^<]+)</span>", table)
    return [(int(rank), code, level) for level, rank, code in rows]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def map_png(html: str) -> bytes:
    found = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert found, "the bulletin has no embedded map image"
    return base64.b64decode(found.group(1))


def test_html_bulletin_holds_the_ranked_table_of_the_live_assessment(demo_app, staff):
    response = get(demo_app, staff["viewer"], region=LIVE_REGION, datetime=MAY)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Disposition"] == (
        'inline; filename="bulletin-GE-AJ-20260501-20260531.html"')
    html = response.get_data(as_text=True)

    ranking = demo_app[0].test_client().get(
        "/api/v1/risk/segments", headers=staff["viewer"],
        query_string={"region": LIVE_REGION, "datetime": MAY}).get_json()["sections"]
    assert len(ranking) == 10
    assert ranked_table(html) == [(s["rank"], s["code"], s["level"]) for s in ranking]
    top = ranking[0]
    # The reasons: the largest-share factor of each component in words, with its score.
    threat = top["explanation"]["threat"][0]
    assert (f"threat: {RISK_FACTOR_LABELS[threat['factor']]['name']} " in html
            and f"(score {threat['score']}, {100 * threat['share']:.0f}&nbsp;%)" in html)

    assert "SYNTHETIC DEMONSTRATION DATA" in html
    assert "Computed live for this bulletin" in html
    assert "Stored assessment" not in html
    assert config_hash(demo_app[0].config["RISK_MODEL"]) in html
    width, height = png_size(map_png(html))
    assert width == 1000 and f'width="{width}" height="{height}"' in html
    # The map is a data: URI, which the page's CSP must allow.
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]


def test_trends_and_alerts_agree_with_the_risk_api(demo_app, staff):
    html = get(demo_app, staff["viewer"], region=LIVE_REGION,
               datetime=MAY).get_data(as_text=True)
    body = demo_app[0].test_client().get(
        "/api/v1/risk/segments", headers=staff["viewer"],
        query_string={"region": LIVE_REGION, "datetime": MAY}).get_json()
    sections = body["sections"]
    previous = sum(s["comparison"]["previous_period"] for s in sections)
    last_year = sum(s["comparison"]["same_period_last_year"] for s in sections)
    trends = html[html.index('<section class="trends"'):html.index('<section class="alerts"')]
    assert re.search(rf">This period</th><td class=\"num\">{body['summary']['incidents']}<", trends)
    assert re.search(rf"Previous equal-length period</th><td class=\"num\">{previous}<", trends)
    assert re.search(rf"Same period last year</th><td class=\"num\">{last_year}<", trends)
    alerts = html[html.index('<section class="alerts"'):html.index('<section class="decisions"')]
    flagged = [s["code"] for s in sections if s["alert"]["alert"]]
    for code in flagged:
        assert f"<td>{code} " in alerts
    if not flagged:
        assert "No section exceeds its baseline" in alerts


def test_stored_assessment_with_a_decision_is_what_the_pdf_prints(demo_app, staff):
    app = demo_app[0]
    http = app.test_client()
    stored = http.post("/api/v1/risk/assessments", headers=staff["analyst"],
                       json={"region": STORED_REGION, "datetime": JUNE})
    assert stored.status_code == 201
    record = stored.get_json()
    section = record["sections"][-1]
    justification = "<b>Fence</b> washed out & patrols cut"
    url = f"/api/v1/risk/segments/{section['section_id']}/level"
    assert http.patch(url, headers=staff["supervisor"], json={
        "level": "critical", "justification": justification}).status_code == 200
    try:
        html = get(demo_app, staff["viewer"], region=STORED_REGION,
                   datetime=JUNE).get_data(as_text=True)
        assert f"Stored assessment no. {record['id']}, run by bulletin-analyst" in html
        assert "Computed live" not in html
        rows = ranked_table(html)
        assert [(rank, code) for rank, code, _ in rows] == [
            (s["rank"], s["code"]) for s in record["sections"]]
        decided = next(row for row in rows if row[1] == section["code"])
        assert decided[2] == "critical"
        assert f"decided; computed {section['level']}" in html
        # User text is escaped, never markup.
        assert "&lt;b&gt;Fence&lt;/b&gt; washed out &amp; patrols cut" in html
        assert "<b>Fence</b>" not in html
        assert record["config_sha256"] in html
        _, map_height = png_size(map_png(html))

        response = get(demo_app, staff["viewer"], region=STORED_REGION, datetime=JUNE,
                       f="pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            'attachment; filename="bulletin-GE-SJ-20260601-20260629.pdf"')
        pdf = response.data
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        # The map is in the PDF as an image of the map's size (an image XObject's
        # dictionary is never compressed).
        images = re.findall(rb"/Subtype\s*/Image\s*/Width\s+(\d+)\s*/Height\s+(\d+)", pdf)
        assert (b"1000", str(map_height).encode()) in images
    finally:
        assert http.patch(url, headers=staff["supervisor"], json={
            "level": None, "justification": "Test over: the decision is lifted."}
        ).status_code == 200


def test_a_record_made_under_an_earlier_model_file_still_prints(demo_app, staff):
    # Records are immutable: one stored with a configuration this version can no longer
    # read keeps its text and hash, and the bulletin shows them as stored.
    app = demo_app[0]
    old_config = "version: 1\ncorridor_m: 5000\n"
    with app.app_context():
        region_id = db.session.execute(text("SELECT id FROM regions WHERE code = 'GE-MM'")
                                       ).scalar_one()
        author = db.session.execute(text(
            "SELECT id FROM users WHERE username = 'bulletin-analyst'")).scalar_one()
        record_id = db.session.execute(text(
            "INSERT INTO risk_assessments (region_id, period_start, period_end, config_sha256, "
            "config_text, inputs, summary, created_by) VALUES (:region, :start, :end, :sha, "
            ":config, '{}', :summary, :author) RETURNING id"), {
                "region": region_id, "start": "2026-06-01T00:00:00Z",
                "end": "2026-06-29T23:59:59Z", "sha": "ab" * 32, "config": old_config,
                "summary": '{"sections": 0, "incidents": 0, "change_previous_pct": null, '
                           '"change_last_year_pct": null, "concentration_top20_pct": null}',
                "author": author}).scalar_one()
        db.session.commit()
        db.session.remove()
    response = get(demo_app, staff["viewer"], region="GE-MM", datetime=JUNE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"Stored assessment no. {record_id}, run by bulletin-analyst" in html
    assert "from an earlier version of the model" in html
    # its name and hash, not its text (no raw YAML in a bulletin)
    assert "ab" * 32 in html and "corridor_m: 5000" not in html


def test_without_datetime_the_bulletin_is_of_the_last_complete_month(demo_app, staff,
                                                                     freeze_clock):
    freeze_clock(clock.parse_moment("2026-06-02T08:00:00Z"))
    html = get(demo_app, staff["viewer"], region=LIVE_REGION).get_data(as_text=True)
    assert "Period 1 May 2026 to 31 May 2026 (UTC, 31 days)" in html
    assert "default: last complete month" in html
    assert "Partial period" not in html
    explicit = get(demo_app, staff["viewer"], region=LIVE_REGION,
                   datetime=MAY).get_data(as_text=True)
    assert ranked_table(html) == ranked_table(explicit)
    assert "Incidents: those within 5000 m of a border section" in html


def test_a_partial_bulletin_says_so_and_compares_nothing(demo_app, staff, freeze_clock):
    freeze_clock(clock.parse_moment("2026-06-15T00:00:00Z"))
    html = get(demo_app, staff["viewer"], region=LIVE_REGION,
               datetime=JUNE).get_data(as_text=True)
    assert "Partial period: it is not over" in html
    summary = html[html.index("Change against the previous period"):]
    assert summary.split("</dd>")[0].endswith(">n/a</span>")
    assert "Largest increases" not in html


@pytest.mark.parametrize(
    ("query", "field"),
    [({"datetime": JUNE}, "region"),
     ({"region": "NOWHERE", "datetime": JUNE}, "region"),
     ({"region": "GE-IM", "datetime": JUNE}, "region"),  # a region without border sections
     ({"region": LIVE_REGION, "datetime": "2026-06-01T00:00:00Z/.."}, "datetime"),
     ({"region": LIVE_REGION, "datetime": "June"}, "datetime"),
     ({"region": LIVE_REGION, "datetime": JUNE, "f": "docx"}, "f")],
)
def test_bad_parameters_are_422_naming_the_parameter(demo_app, staff, query, field):
    response = get(demo_app, staff["viewer"], **query)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == field


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def error_page(response) -> dict:
    """The heading, the sentence and the links (text -> address) of a problem page."""
    page = response.get_data(as_text=True)
    main = page[page.index('<main class="error-page">'):page.index("</main>")]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', main)
    return {"h1": html_module.unescape(re.search(r"<h1>([^<]*)</h1>", main).group(1)),
            "reason": html_module.unescape(
                re.search(r'<p class="error-reason">([^<]*)</p>', main).group(1)),
            "links": {html_module.unescape(text): html_module.unescape(href)
                      for href, text in links}}


@pytest.mark.parametrize(
    ("query", "reason", "ways"),
    [({"region": "NOWHERE", "datetime": JUNE},
      "There is no region “NOWHERE”: the link may be mistyped.", {"Back to the map": "/"}),
     ({"region": "GE-IM"},
      "Region GE-IM has no border sections, so it has no risk bulletin.",
      {"Back to the map": "/"}),
     ({"region": LIVE_REGION, "datetime": "June"},
      "The period in this link (“June”) could not be read.",
      {"Open the bulletin of the last complete month": f"{URL}?region={LIVE_REGION}",
       "Back to the map": f"/?region={LIVE_REGION}"}),
     ({"region": LIVE_REGION, "f": "docx"},
      "A bulletin comes as a page or as a PDF; this link asks for “docx”.",
      {"Open the bulletin of the last complete month": f"{URL}?region={LIVE_REGION}",
       "Back to the map": f"/?region={LIVE_REGION}"})],
)
def test_a_browser_opening_a_bad_bulletin_link_gets_a_page_with_a_way_on(
        demo_app, staff, query, reason, ways):
    response = get(demo_app, {**staff["viewer"], **BROWSER}, **query)
    assert response.status_code == 422 and response.mimetype == "text/html"
    page = error_page(response)
    assert page["h1"] == "This bulletin cannot be opened"
    assert page["reason"] == reason
    assert page["links"] == ways
    # The way on works: the bulletin of the default period, the map.
    client = demo_app[0].test_client()
    for href in ways.values():
        opened = client.get(href, headers={**staff["viewer"], **BROWSER})
        assert opened.status_code == 200, href


@pytest.mark.parametrize("accept", ["application/json", "application/problem+json", "*/*",
                                    "application/json, text/html;q=0.5", None])
def test_api_clients_keep_problem_json_for_a_bad_bulletin_link(demo_app, staff, accept):
    headers = {**staff["viewer"], **({"Accept": accept} if accept else {})}
    response = get(demo_app, headers, region="NOWHERE", datetime=JUNE)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == "region"


def test_the_bad_bulletin_page_is_in_the_pages_language_and_escapes_the_link(demo_app, staff):
    response = get(demo_app, {**staff["viewer"], **BROWSER}, region="<b>x</b>", lang="ka")
    page = error_page(response)
    assert response.status_code == 422
    assert page["h1"] == "ამ ბიულეტენის გახსნა ვერ ხერხდება"
    assert page["reason"] == ("რეგიონი „<b>x</b>“ არ არსებობს: ბმული შესაძლოა არასწორად "
                              "იყოს აკრეფილი.")
    assert "<b>x</b>" not in response.get_data(as_text=True)  # shown as text, escaped
    assert page["links"] == {"რუკაზე დაბრუნება": "/"}


def test_a_missing_archived_bulletin_and_a_missing_session_are_pages_for_a_browser(
        demo_app, staff):
    client = demo_app[0].test_client()
    missing = client.get("/api/v1/bulletins/987654.html", headers={**staff["viewer"], **BROWSER})
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert error_page(missing)["reason"] == ("There is no bulletin at this address: the link "
                                             "may be mistyped or out of date.")
    assert client.get("/api/v1/bulletins/987654.html", headers=staff["viewer"]).mimetype \
        == "application/problem+json"
    signed_out = get(demo_app, BROWSER, region=LIVE_REGION, datetime=JUNE)
    assert signed_out.status_code == 401 and signed_out.mimetype == "text/html"
    # No Basic challenge: the browser would ask for a password in a dialog.
    assert "WWW-Authenticate" not in signed_out.headers
    page = error_page(signed_out)
    assert page["h1"] == "Sign in to read this bulletin"
    assert parse_qs(page["links"]["Sign in"].split("?", 1)[1])["next"][0].startswith(URL)


def test_the_bulletin_needs_a_signed_in_user(demo_app):
    response = get(demo_app, {}, region=LIVE_REGION, datetime=JUNE)
    assert response.status_code == 401


def test_reading_a_bulletin_stores_nothing(demo_app, staff):
    app = demo_app[0]
    with app.app_context():
        before = db.session.execute(text("SELECT count(*) FROM risk_assessments")).scalar()
        db.session.remove()
    get(demo_app, staff["viewer"], region="NOWHERE", datetime=JUNE)
    get(demo_app, staff["viewer"], region=LIVE_REGION, datetime=MAY)
    with app.app_context():
        after = db.session.execute(text("SELECT count(*) FROM risk_assessments")).scalar()
        db.session.remove()
    assert after == before  # reading a bulletin never stores an assessment


def test_a_region_restricted_reader_sees_no_neighbouring_region_on_the_map(demo_app, staff):
    from app.auth.models import User
    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from geo.models import Region
    from tests.conftest import TEST_PASSWORD

    app = demo_app[0]
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username="bulletin-scoped")
                                  ).scalar_one_or_none()
        if user is None:
            user = create_user(db.session, "bulletin-scoped", "viewer", TEST_PASSWORD)
        user.all_regions = False  # restricted to the regions linked below
        user.regions = [db.session.execute(db.select(Region).filter_by(code=LIVE_REGION)
                                           ).scalar_one()]
        _, token = create_token(db.session, user, "bulletin")
        db.session.commit()
    scoped = get(demo_app, {"Authorization": f"Bearer {token}"}, region=LIVE_REGION,
                 datetime=MAY)
    assert scoped.status_code == 200
    full = get(demo_app, staff["viewer"], region=LIVE_REGION, datetime=MAY)
    scoped_png, full_png = map_png(scoped.get_data(as_text=True)), map_png(
        full.get_data(as_text=True))
    assert png_size(scoped_png) == png_size(full_png)
    # The neighbours' regions, sections and crossings around the region are not drawn.
    assert scoped_png != full_png
    # Another region's bulletin is refused to this reader.
    other = get(demo_app, {"Authorization": f"Bearer {token}"}, region=STORED_REGION,
                datetime=MAY)
    assert other.status_code == 403


def test_the_html_bulletin_offers_its_pdf_in_its_language(demo_app, staff):
    http = demo_app[0].test_client()
    html = get(demo_app, staff["viewer"], region=LIVE_REGION, datetime=MAY,
               lang="ka").get_data(as_text=True)
    link = re.search(r'<a class="pdf-button" href="([^"]+)" download>([^<]+)</a>', html)
    assert link, "the HTML bulletin has no PDF button"
    assert link.group(2) == "PDF-ად ჩამოტვირთვა"
    href = html_module.unescape(link.group(1))
    path, query = href.split("?", 1)
    assert path == URL
    assert parse_qs(query) == {"region": ["GE-AJ"], "datetime": [MAY], "f": ["pdf"],
                               "lang": ["ka"]}
    # the link, opened without the cookie that chose the language, is a Georgian PDF
    http.delete_cookie("lang")
    response = http.get(href, headers=staff["viewer"])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    runs = [run.strip() for run in pdf_text_runs(response.data)]
    assert any(run.startswith("რეგიონული რისკის ბიულეტენი:") for run in runs)
    assert "Summary" not in runs and "შეჯამება" in runs
    # the printed page has no button and no contents
    assert "PDF-ად ჩამოტვირთვა" not in runs


def test_dates_are_in_words_in_the_pages_language(demo_app, staff):
    english = get(demo_app, staff["viewer"], region=LIVE_REGION, datetime=MAY,
                  lang="en").get_data(as_text=True)
    assert "Period 1 May 2026 to 31 May 2026" in english
    assert re.search(r"Generated \d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC\.", english)
    georgian = get(demo_app, staff["viewer"], region=LIVE_REGION, datetime=MAY,
                   lang="ka").get_data(as_text=True)
    assert "1 მაისი 2026" in georgian and "31 მაისი 2026" in georgian
    for page in (english, georgian):
        text_only = re.sub(r"<[^>]+>", "", page)  # what the reader sees, not the links
        assert "2026-05-01T" not in text_only and "2026-05-31T" not in text_only


def test_the_configuration_is_named_by_its_hash_not_printed(demo_app, staff):
    config = demo_app[0].config["RISK_MODEL"]
    html = get(demo_app, staff["viewer"], region=LIVE_REGION,
               datetime=MAY).get_data(as_text=True)
    method = html[html.index('<section class="method"'):]
    assert (f"Risk configuration: the one the service runs.\n    SHA-256 "
            f"<code>{config_hash(config)}</code>.") in method
    assert "<pre>" not in html and "<details" not in html
    # no line of the YAML file, and no API instructions
    assert "corridor_m:" not in html and "reference_days:" not in html
    assert "/api/v1/risk" not in html and "POST " not in html


def test_the_map_has_a_scale_bar_a_legend_and_crossing_points(demo_app, staff):
    html = get(demo_app, staff["viewer"], region=LIVE_REGION,
               datetime=MAY).get_data(as_text=True)
    figure = html[html.index('<figure class="map">'):html.index("</figure>")]
    bar = re.search(r'<svg class="scale-bar" viewBox="0 0 1000 34" width="100%" role="img"\s+'
                    r'aria-label="Scale: the bar is (\d+) km on the ground">\s*'
                    r'<rect x="10" y="6" width="([\d.]+)"', figure)
    assert bar, "no scale bar under the map"
    km, pixels = int(bar.group(1)), float(bar.group(2))
    assert str(km)[0] in "125" and set(str(km)[1:]) <= {"0"}  # a round length
    assert 0 < pixels <= 250  # at most a quarter of the map's 1000 pixels
    assert f">{km}&nbsp;km</text>" in figure
    legend = re.findall(r'<li class="key">.*?</svg>\s*([^<]+?)</li>', figure, re.S)
    assert legend == ["Border section, risk low", "Border section, risk medium",
                      "Border section, risk high", "Border section, risk critical",
                      "Border section, not assessed", "Border crossing point",
                      "Hot spot, 99 %", "Hot spot, 95 %", "Hot spot, 90 %",
                      "Cold spots (90, 95, 99 %)"]
    assert ("Map: countries, regional units, Gi* hot-spots, border sections, border crossing "
            "points, EPSG:3857.") in html
    # the region's code and its sections' codes over the map
    labels = re.findall(r'<text class="label-(\w+)"[^>]*>([^<]+)</text>', figure)
    assert ("region", "GE-AJ") in labels
    sections = {code for kind, code in labels if kind == "section"}
    assert sections == {code for _, code, _ in ranked_table(html)}


def test_the_bulletin_has_landmarks_and_headings_in_order(demo_app, staff):
    html = get(demo_app, staff["viewer"], region=LIVE_REGION,
               datetime=MAY).get_data(as_text=True)
    main = '<main id="main" tabindex="-1">'  # the skip link's target
    assert html.count("<header") == 1 and html.count("<main") == 1 and main in html
    assert html.index('<a class="skip-link" href="#main">') < html.index("<header")
    assert html.index("</header>") < html.index(main) < html.index("</main>")
    nav = re.search(r'<nav class="contents" aria-label="Contents of the bulletin">(.*?)</nav>',
                    html, re.S)
    assert nav
    targets = re.findall(r'<a href="#([\w-]+)">', nav.group(1))
    # every section is a named region, and the contents lead to each of them
    labelled = re.findall(r'<section class="[\w-]+" aria-labelledby="([\w-]+)">', html)
    assert targets == labelled == [
        "summary-heading", "map-heading", "ranking-heading", "trends-heading",
        "alerts-heading", "decisions-heading", "method-heading"]
    for heading in labelled:
        assert f'<h2 id="{heading}">' in html
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", html)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False))
