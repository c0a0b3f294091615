"""The browser's 403 and 404 pages (app.errors): a sentence in the page's language and a
way on; the API keeps answering problem+json."""

from __future__ import annotations

import pytest

from tests.app.admin.test_admin import sign_in


@pytest.mark.parametrize("role, path, status, heading, reason", [
    ("viewer", "/no-such-page", 404, "Page not found",
     "There is no page at this address: the link may be mistyped or out of date."),
    ("supervisor", "/admin/audit", 403, "Not allowed",
     "Your role does not give access to this page. Ask an administrator if you need it."),
])
def test_a_refused_page_says_why_and_leads_back_to_the_map(client, make_user, role, path,
                                                          status, heading, reason):
    sign_in(client, make_user(role).username)
    response = client.get(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in page
    assert reason in page
    assert 'href="/">Back to the map</a>' in page
    assert 'class="topbar"' in page  # the app's own page, not Werkzeug's


def test_the_pages_speak_georgian(client, make_user):
    sign_in(client, make_user("viewer").username)
    page = client.get("/no-such-page?lang=ka").get_data(as_text=True)
    assert "<h1>გვერდი ვერ მოიძებნა</h1>" in page
    assert "რუკაზე დაბრუნება" in page


def test_api_paths_keep_answering_problem_json(client, analyst):
    response = client.get("/api/v1/no-such-resource", headers=analyst)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Not Found"
