"""The admin pages in Georgian: every string of app/templates/admin, app/admin and app/auth
(the reasons an ``AuthError`` gives) is in the catalogue with a Georgian translation, and
the pages and their messages show it."""

import re
from html.parser import HTMLParser

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from config import BASE_DIR
from tests.app.admin.test_admin import admin, post, sign_in  # noqa: F401  (admin: a fixture)
from tests.app.ui.test_ui import PO_FILE

ADMIN_TEMPLATES = sorted((BASE_DIR / "app" / "templates" / "admin").glob("*.html"))
ADMIN_CODE = sorted((BASE_DIR / "app" / "admin").glob("*.py"))
AUTH_CODE = sorted((BASE_DIR / "app" / "auth").glob("*.py"))
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def marked_messages(templates=(), code=()) -> set[tuple[str | None, str]]:
    """(context, msgid) of every message these templates and Python files mark."""
    found = set()
    for method, paths in (("jinja2", templates), ("python", code)):
        for path in paths:
            for _, message, _, context in extract_from_file(method, path,
                                                            keywords=KEYWORDS):
                singular = message[0] if isinstance(message, tuple) else message
                found.add((context, singular))
    return found


def untranslated(messages: set[tuple[str | None, str]]) -> list[str]:
    """The msgids of ``messages`` with no Georgian translation (or only a fuzzy one)."""
    with PO_FILE.open("rb") as stream:
        catalog = read_po(stream)
    missing = []
    for context, msgid in sorted(messages, key=str):
        entry = catalog.get(msgid, context=context)  # a plural entry by its singular
        if entry is None or entry.fuzzy or not all(
                entry.string if isinstance(entry.string, tuple) else (entry.string,)):
            missing.append(msgid)
    return missing


def test_every_admin_string_has_a_georgian_translation():
    messages = marked_messages(ADMIN_TEMPLATES, ADMIN_CODE)
    assert (None, "Create user") in messages  # the templates are read
    assert (None, "Created user %(name)s.") in messages  # and the code
    assert untranslated(messages) == []


def test_every_auth_refusal_has_a_georgian_translation():
    messages = marked_messages(code=AUTH_CODE)
    assert (None, "password must be at least %(min)d characters") in messages  # users
    assert (None, "no token with id %(id)s") in messages  # tokens
    assert (None, "too many failed sign-ins from this address; try again in "
                  "%(seconds)d s") in messages  # sign-in
    assert untranslated(messages) == []


def test_no_unmarked_english_in_the_admin_templates():
    """Text between tags is a marked string, an expression, or no words at all."""
    words = re.compile(r"[A-Za-z]{2,}")
    for path in ADMIN_TEMPLATES:
        source = re.sub(r"{#.*?#}|{{.*?}}|{%.*?%}", " ", path.read_text(), flags=re.S)
        text = re.sub(r"<[^>]*>", " ", source)
        # Not words to translate: the product, a time zone, the <body> class (a block).
        for name in ("BorderRisk", "UTC", "admin-page"):
            text = text.replace(name, " ")
        assert words.findall(text) == [], path.name


class VisibleText(HTMLParser):
    """The text a reader sees: text nodes and labelling attributes, not scripts."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "code", "time", "output")
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "code", "time", "output")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def english_words(html: str, allowed: set[str]) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    text = " ".join(parser.parts)
    for value in sorted(allowed, key=len, reverse=True):
        text = text.replace(value, " ")
    return set(re.findall(r"[A-Za-z]{3,}", text))


# Names, not words to translate: the product, the other language's own name, standards,
# the agencies' codes.
NOT_TRANSLATED = {"BorderRisk", "English", "UTC", "RFC", "CSV", "SHA", "API",
                  "GBP", "PPD", "IAD", "MD", "RS"}


def admin_part(html: str) -> str:
    """What the admin templates render: from their navigation to the end of <main>."""
    start, end = html.index('<nav class="admin-nav"'), html.index("</main>")
    return html[start:end]


def flashes(html: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*" role="alert">(.*?)</p>', html, re.S)


@pytest.fixture
def in_georgian(client, admin):  # noqa: F811  (the fixture imported above)
    """The signed-in admin's browser, switched to Georgian (``?lang=`` sets a cookie)."""
    assert '<html lang="ka">' in client.get("/admin?lang=ka").get_data(as_text=True)
    return client


def test_admin_pages_in_georgian(in_georgian, admin, db_session, sample_layers):  # noqa: F811
    from app.auth.tokens import create_token

    client = in_georgian
    create_token(db_session, admin, "qgis")
    names = {admin.username, "qgis", "Werkzeug", "T-KA", "T-KK"}

    users = client.get("/admin").get_data(as_text=True)
    assert "<title>მომხმარებლები · ადმინისტრირება · BorderRisk</title>" in users
    assert "ახალი მომხმარებელი" in users and ">მომხმარებლის შექმნა</button>" in users
    assert ">ადმინისტრატორი</option>" in users and 'value="admin"' in users  # roles
    assert "Create user" not in users and "Failed sign-ins" not in users
    assert english_words(admin_part(users), names | NOT_TRANSLATED) == set()

    page = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    assert f"მომხმარებელი {admin.username}" in page and "API ტოკენები" in page
    assert "რეგიონები: ყველა" in page and "ბოლო შესვლა: <time" in page
    assert ">აქტიური</option>" in page and ">გაუქმება</button>" in page  # revoke qgis
    assert english_words(admin_part(page), names | NOT_TRANSLATED) == set()

    sessions = client.get("/admin/sessions").get_data(as_text=True)
    assert "ბრაუზერის აქტიური სესიები" in sessions and ">დასრულება</button>" in sessions
    assert english_words(admin_part(sessions), names | NOT_TRANSLATED) == set()

    agencies = client.get("/admin/agencies").get_data(as_text=True)
    assert "<title>უწყებები · ადმინისტრირება · BorderRisk</title>" in agencies
    assert ">უწყების შექმნა</button>" in agencies and "ყველა უწყებისთვის" in agencies
    # The agencies' English names stay in their own column (lang="en"), as data.
    english_names = set(re.findall(r'<td lang="en">(.*?)</td>', agencies))
    assert len(english_names) == 4
    assert english_words(admin_part(agencies),
                         names | NOT_TRANSLATED | english_names) == set()

    audit = client.get("/admin/audit?entity=nothing").get_data(as_text=True)
    assert "0 ჩანაწერი." in audit and "ჩანაწერები არ არის." in audit
    assert english_words(admin_part(audit), names | NOT_TRANSLATED) == set()
    # The English page is unchanged by the Georgian one before it.
    english = client.get("/admin/sessions?lang=en").get_data(as_text=True)
    assert "Live browser sessions" in english and '<html lang="en">' in english


def test_region_names_follow_the_language(in_georgian, sample_layers):
    from app.auth.users import all_regions
    from app.extensions import db

    region = all_regions(db.session)[0]
    georgian = in_georgian.get("/admin").get_data(as_text=True)
    assert f"{region.code} – {region.name_ka}</option>" in georgian
    english = in_georgian.get("/admin?lang=en").get_data(as_text=True)
    assert f"{region.code} – {region.name_en}</option>" in english


def test_refusals_are_in_english_without_a_request(app):
    """As under the ``flask`` CLI (an app context, no request) or in plain Python."""
    from app.auth.users import AuthError, check_password

    with pytest.raises(AuthError, match=r"^password must be at least 8 characters$"):
        check_password("short")  # no app context at all
    with app.app_context(), pytest.raises(
            AuthError, match=r"^password must be at least 8 characters$"):
        check_password("short")  # the app's context, no request


def test_admin_messages_in_georgian(app, in_georgian, admin, db_session,  # noqa: F811
                                    make_user):
    client = in_georgian
    unscoped = post(client, "/admin/users", {"username": "ka-viewer", "role": "viewer",
                                             "password": "long-enough-pw"})
    assert flashes(unscoped.get_data(as_text=True)) == [
        "არაფერი შენახულა: რეგიონები: აირჩიეთ მომხმარებლის რეგიონები ან ყველა რეგიონი"]
    created = post(client, "/admin/users", {"username": "ka-viewer", "role": "viewer",
                                            "password": "long-enough-pw", "all_regions": "1"},
                   follow_redirects=True)
    assert flashes(created.get_data(as_text=True)) == ["მომხმარებელი ka-viewer შეიქმნა."]

    # A refusal: a Georgian lead-in and a Georgian reason, nothing saved.
    refused = post(client, "/admin/users", {"username": "x", "role": "viewer",
                                            "password": "short"})
    assert refused.status_code == 422
    assert flashes(refused.get_data(as_text=True)) == [
        "არაფერი შენახულა: პაროლი უნდა შეიცავდეს მინიმუმ 8 სიმბოლოს"]
    own_role = post(client, f"/admin/users/{admin.id}", {"role": "viewer", "active": "active"})
    assert own_role.status_code == 422
    assert flashes(own_role.get_data(as_text=True)) == [
        "არაფერი შენახულა: role/active: საკუთარი როლის შეცვლა ან საკუთარი თავის "
        "დეაქტივაცია შეუძლებელია; მიმართეთ სხვა ადმინისტრატორს"]
    taken = post(client, "/admin/users", {"username": "ka-viewer", "role": "viewer",
                                          "password": "long-enough-pw", "all_regions": "1"})
    assert flashes(taken.get_data(as_text=True)) == [
        "არაფერი შენახულა: მომხმარებლის სახელი &#39;ka-viewer&#39; დაკავებულია"]

    days = post(client, f"/admin/users/{admin.id}/tokens",
                {"name": "qgis", "expires_days": "0"})
    assert days.status_code == 422
    assert flashes(days.get_data(as_text=True)) == [
        "არაფერი შენახულა: expires_days: დღეების მთელი რიცხვი, 1-დან 3650-მდე"]

    new = post(client, f"/admin/users/{admin.id}/tokens",
               {"name": "50% <b>qgis</b>", "expires_days": "30"})
    assert new.status_code == 201
    html = new.get_data(as_text=True)
    assert "ახალი ტოკენი 50% &lt;b&gt;qgis&lt;/b&gt;" in html
    assert "დააკოპირეთ ახლავე" in html
    token_id = re.search(r'data-token-id="(\d+)"', html).group(1)
    revoked = post(client, f"/admin/tokens/{token_id}/revoke", follow_redirects=True)
    assert flashes(revoked.get_data(as_text=True)) == [
        f"მომხმარებლის {admin.username} ტოკენი „50% &lt;b&gt;qgis&lt;/b&gt;“ გაუქმდა."]

    target = make_user("viewer")
    sign_in(app.test_client(), target.username)
    ended = post(client, f"/admin/users/{target.id}/sessions/revoke", follow_redirects=True)
    assert flashes(ended.get_data(as_text=True)) == [
        f"დასრულდა მომხმარებლის {target.username} 1 სესია."]
    english = post(client, f"/admin/users/{target.id}/sessions/revoke?lang=en",
                   follow_redirects=True)
    assert flashes(english.get_data(as_text=True)) == [
        f"Ended 0 sessions of {target.username}."]
    short = post(client, "/admin/users", {"username": "x", "role": "viewer",
                                          "password": "short"})
    assert flashes(short.get_data(as_text=True)) == [
        "Nothing was saved: password must be at least 8 characters"]
