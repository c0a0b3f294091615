"""The admin page's agencies (list, create, change names, state and release defaults,
every change audited) and the agency of each user (shown, chosen, changed)."""

import re

from sqlalchemy import select

from app.auth.models import User
from geo.models import Agency
from tests.app.admin.test_admin import admin, post, records  # noqa: F401  (admin: a fixture)


def agency(db_session, code) -> Agency:
    return db_session.scalar(select(Agency).where(Agency.code == code))


def row(html: str, attribute: str, value: str) -> str:
    return re.search(rf'<tr {attribute}="{value}">.*?</tr>', html, re.S).group(0)


def flash_text(html: str) -> str:
    return " ".join(re.findall(r'<p class="flash[^"]*" role="alert">(.*?)</p>', html, re.S))


def test_agencies_listed_with_their_defaults(client, admin, db_session):  # noqa: F811
    ppd = agency(db_session, "PPD")
    ppd.default_releasability, ppd.default_aggregate = ["MD"], False
    db_session.flush()
    page = client.get("/admin/agencies")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script" not in html
    codes = re.findall(r'<tr data-agency="([A-Z0-9]+)">', html)
    assert codes == ["GBP", "IAD", "MD", "PPD"]  # by code
    ppd_row = row(html, "data-agency", "PPD")
    assert f'<td lang="en">{ppd.name_en}</td>' in ppd_row
    assert f'<td lang="ka">{ppd.name_ka}</td>' in ppd_row
    assert '<td class="release">the agency and MD</td>' in ppd_row
    assert '<td class="aggregate">no</td>' in ppd_row and "<td>active</td>" in ppd_row
    assert '<td class="release">all agencies</td>' in row(html, "data-agency", "GBP")
    # Each agency's form starts at its stored values.
    form = re.search(r'<details class="agency-edit" id="edit-PPD">.*?</details>', html,
                     re.S).group(0)
    assert 'name="release_to" value="MD" checked' in form
    assert 'name="release_to" value="PPD"' not in form  # an agency is not listed to itself
    assert 'name="default_aggregate" value="1" checked' not in form
    # Admins find the page from the admin navigation.
    assert 'href="/admin/agencies"' in client.get("/admin").get_data(as_text=True)


def test_create_an_agency(client, admin, db_session):  # noqa: F811
    response = post(client, "/admin/agencies", {
        "code": "rs", "name_en": "Revenue Service", "name_ka": "შემოსავლების სამსახური",
        "active": "1", "default_releasability": "list", "release_to": ["PPD", "GBP"]})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/agencies")
    created = agency(db_session, "RS")  # the code in upper case
    assert (created.name_en, created.name_ka, created.active) == (
        "Revenue Service", "შემოსავლების სამსახური", True)
    assert created.default_releasability == ["GBP", "PPD"]
    assert created.default_aggregate is False  # not ticked
    (record,) = records(db_session, "agency", "RS")
    assert record.action == "create" and record.before is None
    assert record.after["default_releasability"] == ["GBP", "PPD"]
    assert record.username == admin.username and record.path == "/admin/agencies"
    html = client.get("/admin/agencies").get_data(as_text=True)
    assert "Created agency RS." in html
    assert '<td class="release">the agency and GBP, PPD</td>' in row(html, "data-agency", "RS")
    # A new agency can take users at once.
    assert 'value="RS"' in client.get("/admin").get_data(as_text=True)


def test_change_an_agencys_names_state_and_defaults(client, admin, db_session):  # noqa: F811
    md = agency(db_session, "MD")
    before_name = md.name_ka
    response = post(client, "/admin/agencies/MD", {
        "name_en": "Migration Department (MIA)", "name_ka": before_name, "active": "1",
        "default_releasability": "agency"})
    assert response.status_code == 303
    db_session.refresh(md)
    assert md.name_en == "Migration Department (MIA)"
    assert md.default_releasability == "agency" and md.default_aggregate is False
    (record,) = records(db_session, "agency", "MD")
    assert record.action == "update"
    assert record.before["default_releasability"] == "all"
    assert record.after["default_releasability"] == "agency"
    assert (record.before["default_aggregate"], record.after["default_aggregate"]) == (
        True, False)
    # The same form again changes nothing, and says so (no second record).
    again = post(client, "/admin/agencies/MD", {
        "name_en": "Migration Department (MIA)", "name_ka": before_name, "active": "1",
        "default_releasability": "agency"}, follow_redirects=True)
    assert "Nothing changed." in again.get_data(as_text=True)
    assert len(records(db_session, "agency", "MD")) == 1
    # Deactivated: no new user may join it.
    post(client, "/admin/agencies/MD", {"name_en": "x", "name_ka": "y",
                                        "default_releasability": "all"})
    db_session.refresh(md)
    assert md.active is False
    assert 'value="MD"' not in client.get("/admin").get_data(as_text=True)


def test_refusals_name_the_field_and_save_nothing(client, admin, db_session):  # noqa: F811
    none_ticked = post(client, "/admin/agencies/PPD", {
        "name_en": "Changed", "name_ka": "x", "active": "1",
        "default_releasability": "list"})
    assert none_ticked.status_code == 422
    assert flash_text(none_ticked.get_data(as_text=True)) == (
        "Nothing was saved: default_releasability: tick at least one agency, or choose the "
        "agency only")
    assert agency(db_session, "PPD").name_en != "Changed"
    assert records(db_session, "agency") == []

    blank = post(client, "/admin/agencies/PPD", {"name_en": " ", "name_ka": "x",
                                                 "default_releasability": "all"})
    assert blank.status_code == 422
    assert "name_en: is required" in flash_text(blank.get_data(as_text=True))

    bad_code = post(client, "/admin/agencies", {
        "code": "R<S>", "name_en": "Revenue", "name_ka": "x", "default_releasability": "all"})
    assert bad_code.status_code == 422
    html = bad_code.get_data(as_text=True)
    assert "code: must be 2-16 upper-case letters" in flash_text(html)
    assert "R<S>" not in html  # escaped where it is shown again
    assert 'value="Revenue"' in html  # the form keeps what was typed
    taken = post(client, "/admin/agencies", {
        "code": "GBP", "name_en": "Again", "name_ka": "x", "default_releasability": "all"})
    assert "code: agency GBP exists already" in flash_text(taken.get_data(as_text=True))
    assert records(db_session, "agency") == []
    assert post(client, "/admin/agencies/NOPE", {"name_en": "x", "name_ka": "y",
                                                 "default_releasability": "all"}
                ).status_code == 404
    # CSRF like every admin form.
    for path in ("/admin/agencies", "/admin/agencies/PPD"):
        assert client.post(path, data={"csrf_token": "forged", "code": "XY"}
                           ).status_code == 400


def test_a_users_agency_is_shown_chosen_and_changed(client, admin, db_session,  # noqa: F811
                                                    make_user):
    target = make_user("analyst", agency="PPD")
    listed = client.get("/admin").get_data(as_text=True)
    assert '<td class="agency">PPD</td>' in row(listed, "data-username", target.username)
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert "agency: PPD;" in page
    assert re.search(r'<select id="agency" name="agency" required>.*?'
                     r'<option value="PPD" selected>', page, re.S)

    changed = post(client, f"/admin/users/{target.id}",
                   {"role": "analyst", "active": "active", "agency": "MD", "all_regions": "1"})
    assert changed.status_code == 303
    db_session.refresh(target)
    assert target.agency == "MD"
    update = records(db_session, "user", target.id)[-1]
    assert (update.before["agency"], update.after["agency"]) == ("PPD", "MD")

    refused = post(client, f"/admin/users/{target.id}",
                   {"role": "analyst", "active": "active", "agency": "NOPE",
                    "all_regions": "1"})
    assert refused.status_code == 422
    assert "agency: unknown code &#39;NOPE&#39;" in refused.get_data(as_text=True)
    db_session.refresh(target)
    assert target.agency == "MD"

    created = post(client, "/admin/users", {"username": "iad-viewer", "role": "viewer",
                                            "password": "long-enough-pw", "all_regions": "1",
                                            "agency": "IAD"})
    assert created.status_code == 303
    user = db_session.scalar(select(User).where(User.username == "iad-viewer"))
    assert user.agency == "IAD"
    assert records(db_session, "user", user.id)[0].after["agency"] == "IAD"
