"""The workspace page, its language switch and the JavaScript message catalogue."""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.security_headers import content_security_policy
from app.ui import i18n
from app.ui.messages import JS_MESSAGES, TEMPLATE_MESSAGES
from config import BASE_DIR, Config, ConfigError
from geo.maps import palette

PO_FILE = BASE_DIR / "app" / "translations" / "ka" / "LC_MESSAGES" / "messages.po"
# t("...") in our modules, with "..." + "..." continuations across lines.
T_CALL = re.compile(r'\bt\(\s*((?:"(?:[^"\\]|\\.)*"\s*\+?\s*)+)')


def js_strings() -> set[str]:
    found = set()
    for path in (BASE_DIR / "static" / "js").glob("*.js"):
        for match in T_CALL.finditer(path.read_text()):
            found.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))))
    return found


def test_every_javascript_string_is_in_the_catalogue():
    strings = js_strings()
    assert "Updating…" in strings  # the pattern finds them
    assert strings - set(JS_MESSAGES) == set()


def test_every_message_has_a_georgian_translation():
    with PO_FILE.open("rb") as stream:
        catalog = read_po(stream)
    # A plural entry has a tuple of forms (English singular and plural; Georgian forms).
    def forms(text):
        return text if isinstance(text, tuple) else (text,)

    untranslated = [m.id for m in catalog
                    if m.id and (m.fuzzy or not all(forms(m.string)))]
    assert untranslated == []
    translated = {m.id for m in catalog if m.id}
    assert set(JS_MESSAGES) | set(TEMPLATE_MESSAGES) <= translated
    # Placeholders survive translation: {name} (JavaScript) and %(name)s (Python, Jinja).
    placeholder = re.compile(r"{\w+}|%\(\w+\)[sd]")
    for message in catalog:
        if message.id:
            expected = set(placeholder.findall(forms(message.id)[-1]))
            for form in forms(message.string):
                assert set(placeholder.findall(form)) == expected, message.id


def test_catalogues_compile(tmp_path):
    target = tmp_path / "ka" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "messages.po").write_bytes(PO_FILE.read_bytes())
    assert i18n.compile_catalogues(tmp_path) == [target / "messages.mo"]
    assert (target / "messages.mo").stat().st_size > 1000
    assert i18n.compile_catalogues(tmp_path) == []  # already current


def sign_in_as(client, user):
    """A browser session of ``user`` (the server-side row and the cookie)."""
    from datetime import timedelta

    from app.auth.sessions import start_session
    from app.extensions import db

    sid = start_session(db.session, user, timedelta(hours=1))
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["_sid"] = sid


def sign_in(client, make_user, role="analyst"):
    user = make_user(role)
    sign_in_as(client, user)
    return user


def test_catalogue_in_english_and_georgian(client, make_user):
    sign_in(client, make_user)
    english = client.get("/ui/i18n.json").get_json()
    assert english["locale"] == "en"
    assert english["messages"]["Alerts"] == "Alerts"
    georgian = client.get("/ui/i18n.json?lang=ka").get_json()
    assert georgian["locale"] == "ka"
    assert georgian["messages"]["Alerts"] == "გაფრთხილებები"
    assert georgian["messages"]["{n} incidents"] == "{n} ინციდენტი"
    assert len(georgian["messages"]) == len(set(JS_MESSAGES))


def test_language_switch_is_remembered_in_a_cookie(client, make_user):
    sign_in(client, make_user)
    page = client.get("/?lang=ka")
    assert page.status_code == 200
    assert "lang=ka" in page.headers["Set-Cookie"]
    html = page.get_data(as_text=True)
    assert '<html lang="ka">' in html and "საზღვრის მონაკვეთების რეიტინგი" in html
    # Without the parameter the cookie keeps Georgian; ?lang=en switches back.
    assert '<html lang="ka">' in client.get("/").get_data(as_text=True)
    back = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in back and "Ranked border sections" in back
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    # An unknown language is ignored, not an error.
    assert client.get("/?lang=xx").status_code == 200


def test_login_page_in_georgian(client):
    html = client.get("/login?lang=ka").get_data(as_text=True)
    assert "მომხმარებლის სახელი" in html and "პაროლი" in html


def test_accept_language_chooses_georgian(client, make_user):
    sign_in(client, make_user)
    html = client.get("/", headers={"Accept-Language": "ka-GE,ka;q=0.9"}).get_data(as_text=True)
    assert '<html lang="ka">' in html


@pytest.mark.parametrize("role,write,decide", [("viewer", False, False),
                                               ("analyst", True, False),
                                               ("supervisor", True, True)])
def test_page_shows_only_what_the_role_may_do(client, make_user, role, write, decide):
    sign_in(client, make_user, role)
    html = client.get("/").get_data(as_text=True)
    assert ('id="add-incident"' in html) is write
    assert ('id="import-dialog"' in html) is write
    assert ('id="level-form"' in html) is decide
    assert f'data-can-decide="{"true" if decide else "false"}"' in html
    assert "<script>" not in html  # no inline script: the CSP forbids it


def test_the_page_asks_ahead_for_the_next_month_as_the_setting_says(client, make_user, app,
                                                                      monkeypatch):
    sign_in(client, make_user, "viewer")
    assert 'data-prefetch-month="false"' in client.get("/").get_data(as_text=True)  # TESTING
    monkeypatch.setitem(app.config, "PREFETCH_NEXT_MONTH", True)
    assert 'data-prefetch-month="true"' in client.get("/").get_data(as_text=True)


def test_basemap_url_setting_and_csp():
    # A database named, so that the settings do not depend on this checkout's cluster.
    base = {"DATABASE_URL": "postgresql://user:password@db.example.org:5432/borderrisk"}
    assert Config.from_env(environ=base).BASEMAP_URL == ""
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    assert Config.from_env(environ={**base, "BASEMAP_URL": url}).BASEMAP_URL == url
    with pytest.raises(ConfigError, match="BASEMAP_URL"):
        Config.from_env(environ={**base, "BASEMAP_URL": "javascript:alert(1)"})
    with pytest.raises(ConfigError, match="BASEMAP_URL"):
        Config.from_env(environ={**base, "BASEMAP_URL": "https://tiles.example.org/tile.png"})
    assert "img-src 'self' data:;" in content_security_policy("")
    assert "img-src 'self' data: https://tiles.example.org;" in content_security_policy(url)


def test_no_compiled_catalogue_is_committed():
    ignored = (BASE_DIR / ".gitignore").read_text().splitlines()
    assert "*.mo" in ignored
    assert Path(BASE_DIR / "babel.cfg").exists()


def test_a_user_of_several_regions_has_no_all_regions_choice(client, make_user, sample_layers):
    from app.extensions import db
    from geo.models import Region

    user = sign_in(client, make_user, "viewer")
    assert "All regions" in client.get("/").get_data(as_text=True)  # unrestricted
    user.all_regions = False  # restricted to the regions linked below
    user.regions = list(db.session.scalars(db.select(Region).order_by(Region.code)))[:2]
    db.session.flush()
    assert len(user.regions) == 2
    assert "All regions" not in client.get("/").get_data(as_text=True)
    user.regions = user.regions[:1]  # one region: "all" is that region
    db.session.flush()
    assert "All regions" in client.get("/").get_data(as_text=True)


def test_the_page_draws_with_the_palettes_of_geo_maps_palette(client, make_user):
    sign_in(client, make_user, "viewer")
    html = client.get("/").get_data(as_text=True)
    assert 'data-palettes="/ui/palettes.json"' in html
    served = client.get("/ui/palettes.json")
    assert served.status_code == 200 and served.mimetype == "application/json"
    colours = served.get_json()
    assert colours == palette.legend_palettes()
    # The WMS's own values, key by key (JSON keys are strings).
    assert colours["density_ramp"] == list(palette.DENSITY_RAMP)
    assert colours["density_ramp"][-1] == "#b10026"  # YlOrRd, as the WMS draws
    assert colours["risk_levels"] == {**palette.RISK_LEVEL_COLOURS,
                                      "none": palette.NOT_ASSESSED_COLOUR}
    assert {int(b): c for b, c in colours["hotspot_bins"].items()} == \
        palette.HOTSPOT_BIN_COLOURS
    assert colours["lisa_clusters"] == palette.LISA_CLUSTER_COLOURS
    assert colours["emerging_categories"] == palette.EMERGING_CATEGORY_COLOURS
    assert colours["incident"] == palette.INCIDENT_POINT_COLOUR
    assert colours["outlines"]["region"] == palette.REGION_OUTLINE_COLOUR  # the WMS's regions


# A colour written in a script, in a string or a comment: #rgb, #rrggbb (with or without
# alpha), rgb() or hsl().
COLOUR_LITERAL = re.compile(
    r"(?<![\w&])#(?:[0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})(?![\w-])|\b(?:rgb|hsl)a?\(",
    re.IGNORECASE)


def test_no_script_hard_codes_a_colour():
    """Every colour the page draws with comes from /ui/palettes.json, none from a script
    (the density ramp once drifted from the WMS's that way)."""
    assert COLOUR_LITERAL.search('color: "#555",') and COLOUR_LITERAL.search("'#b10026'")
    assert COLOUR_LITERAL.search('style="fill:#b10026"')
    assert not COLOUR_LITERAL.search('querySelector("#add-incident")')
    for path in (BASE_DIR / "static" / "js").glob("*.js"):
        assert COLOUR_LITERAL.findall(path.read_text()) == [], path.name


def test_the_page_knows_the_users_agency_and_offers_the_release_controls(client, make_user):
    from app.extensions import db
    from geo.models import Agency

    user = make_user("analyst", agency="PPD")
    sign_in_as(client, user)
    html = client.get("/").get_data(as_text=True)
    assert 'data-agency="PPD"' in html
    assert 'id="f-agencies"' in html  # the agency filter (boxes filled by the script)
    for control in ('name="reporting_unit"', 'name="releasability" value="all"',
                    'name="releasability" value="agency"', 'name="releasability" value="list"',
                    'id="i-release-to"', 'id="i-aggregate" name="aggregate"'):
        assert control in html, control
    # The defaults the form starts at are the agency's, listed by /api/v1/agencies.
    listed = {a["code"]: a for a in client.get("/api/v1/agencies").get_json()["agencies"]}
    ppd = db.session.scalar(db.select(Agency).where(Agency.code == "PPD"))
    assert listed["PPD"]["default_releasability"] == ppd.default_releasability
    assert listed["PPD"]["default_aggregate"] is ppd.default_aggregate
    georgian = client.get("/?lang=ka").get_data(as_text=True)
    assert "მხოლოდ ჩემი უწყებისთვის" in georgian and "უწყებები" in georgian


def test_every_agency_has_a_ring_colour_of_the_palette(client, make_user):
    from testsupport.agencies import AGENCIES

    sign_in(client, make_user, "viewer")
    colours = client.get("/ui/palettes.json").get_json()
    assert colours["agencies"] == palette.AGENCY_COLOURS
    assert set(colours["agencies"]) == set(AGENCIES)
    assert len(set(colours["agencies"].values())) == len(AGENCIES)  # told apart
    assert colours["agency_extra"] and not set(colours["agency_extra"]) & set(
        colours["agencies"].values())


def test_the_agency_strings_of_the_script_are_in_georgian(client, make_user):
    sign_in(client, make_user)
    messages = client.get("/ui/i18n.json?lang=ka").get_json()["messages"]
    assert messages["all agencies"] == "ყველა უწყებისთვის"
    assert messages["releasability"] == "ხელმისაწვდომობა"
    assert messages["Originating agency (ring)"] == "წყარო უწყება (რგოლი)"



def test_every_coded_incident_value_and_field_has_a_label():
    """The incident popup's words (app.ui.messages) cover the vocabulary: a code added to
    geo.vocabulary without a label would show as a raw code."""
    from app.ui.messages import INCIDENT_FIELD_LABELS, INCIDENT_VALUE_LABELS
    from geo.layers import INCIDENTS

    coded = {f.name: {str(c) for c in f.choices} for f in INCIDENTS.fields if f.choices}
    assert {name: set(labels) for name, labels in INCIDENT_VALUE_LABELS.items()} == coded
    assert {f.name for f in INCIDENTS.fields} <= set(INCIDENT_FIELD_LABELS)


def test_the_catalogue_sends_the_incident_labels_in_the_pages_language(client, make_user):
    from tests.app.admin.test_admin import sign_in

    sign_in(client, make_user("viewer").username)
    english = client.get("/ui/i18n.json?lang=en").get_json()["incident_labels"]
    assert english["fields"]["detection_method"] == "Detected by"
    assert english["values"]["category"]["illegal_stay"] == "Illegal stay"
    georgian = client.get("/ui/i18n.json?lang=ka").get_json()["incident_labels"]
    assert georgian["fields"]["category"] == "კატეგორია"
    assert georgian["values"]["direction"] == {"entry": "შესვლა", "exit": "გასვლა"}


def test_the_georgian_catalogue_passes_babels_checks():
    """What `pybabel compile` (make translations) refuses: e.g. a msgid with "% o" is
    read as a Python format, and a translation without the same placeholder fails."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parents[3] / "app/translations/ka/LC_MESSAGES/messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert problems == []
def test_the_catalogue_sends_the_risk_factors_in_the_pages_language(client, make_user):
    from tests.app.admin.test_admin import sign_in

    sign_in(client, make_user("viewer").username)
    english = client.get("/ui/i18n.json?lang=en").get_json()["risk_factor_labels"]
    assert english["inland_share"] == {
        "name": "Share detected late (inland, after the crossing)", "unit": "{value} %",
        "scale": 100, "digits": 0, "values": {}}
    assert english["terrain"]["values"]["high_mountain"] == "High mountain"
    georgian = client.get("/ui/i18n.json?lang=ka").get_json()["risk_factor_labels"]
    assert georgian["crossing_distance"]["name"] == "მანძილი უახლოეს გამშვებ პუნქტამდე"
    assert georgian["incidents_per_km"]["unit"] == "{value} ინციდენტი/კმ {days} დღეში"
