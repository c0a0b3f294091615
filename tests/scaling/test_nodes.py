"""Two gunicorn nodes behind nginx (round robin, no sticky sessions) on one database:
sign-in, sessions, CSRF, lock-outs, address limits and the version-keyed caches behave
as with one node, whichever node answers (real processes, testsupport/nodes.py)."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from tests.app.api.test_api_write import incident
from tests.app.ogc.test_tiles import X, Y, Z
from testsupport.apps import TEST_PASSWORD, committed_sample_layers
from testsupport.nodes import app_nodes

pytestmark = pytest.mark.slow

MAX_FAILURES = 3
IP_MAX_FAILURES = 8
USERS = ("nodes-analyst", "nodes-locked")


@pytest.fixture(scope="module")
def cluster(databases):
    """(nodes, app): two nodes behind nginx on a database of their own holding the
    sample layers and the users ``USERS``; ``app`` in this process on the same
    database (to read what the nodes wrote). The address limit's test, the file's last,
    makes every sign-in from this machine refused from then on."""
    app, _ = committed_sample_layers(databases)
    with app.app_context():
        for username in USERS:
            create_user(db.session, username, "analyst", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    settings = {"LOGIN_MAX_FAILURES": str(MAX_FAILURES),
                "LOGIN_IP_MAX_FAILURES": str(IP_MAX_FAILURES)}
    try:
        with app_nodes(app.config["SQLALCHEMY_DATABASE_URI"], 2, settings) as nodes:
            yield nodes, app
    finally:
        with app.app_context():
            db.engine.dispose()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def sign_in(nodes, browser: requests.Session, username: str,
            password: str = TEST_PASSWORD) -> tuple[requests.Response, str, str]:
    """(the answer to the sign-in form, the node that served the form, the node that
    took the POST)."""
    form = browser.get(f"{nodes.url}/login")
    response = post_sign_in(nodes, browser, csrf_token(form.text), username, password)
    return response, nodes.node_of(form), nodes.node_of(response)


def post_sign_in(nodes, browser: requests.Session, token: str, username: str,
                 password: str) -> requests.Response:
    """The sign-in form sent with the CSRF token ``token`` of ``browser``'s session."""
    return browser.post(f"{nodes.url}/login", allow_redirects=False, data={
        "username": username, "password": password, "csrf_token": token})


def failures(nodes, usernames) -> set[str]:
    """Wrong passwords for ``usernames``, one after the other through the proxy with one
    form's token (so the POSTs take turns on the nodes); each must be refused with 401.
    Returns the nodes that answered."""
    browser = requests.Session()
    token = csrf_token(browser.get(f"{nodes.url}/login").text)
    answered_by = set()
    for username in usernames:
        response = post_sign_in(nodes, browser, token, username, "wrong-password-1")
        assert response.status_code == 401, (username, response.status_code)
        answered_by.add(nodes.node_of(response))
    return answered_by


@pytest.fixture(scope="module")
def signed_in(cluster):
    """(browser session of ``nodes-analyst`` through the proxy, the sign-in's answer,
    the node that served the form, the node that took the POST)."""
    nodes, _ = cluster
    browser = requests.Session()
    return browser, *sign_in(nodes, browser, "nodes-analyst")


def test_a_session_begun_on_one_node_is_served_by_both(cluster, signed_in):
    nodes, _ = cluster
    browser, response, form_node, post_node = signed_in
    # The form's CSRF token, made on one node, is accepted by the other.
    assert form_node != post_node
    assert response.status_code == 302, response.text[:300]
    served_by = set()
    for _ in range(4):
        page = browser.get(f"{nodes.url}/", allow_redirects=False)
        assert page.status_code == 200, page.status_code
        assert "nodes-analyst" in page.text
        served_by.add(nodes.node_of(page))
    assert served_by == set(nodes.node_urls)


def test_a_write_with_the_csrf_token_of_one_node_is_taken_by_the_other(cluster, signed_in):
    nodes, app = cluster
    browser = signed_in[0]
    page = browser.get(f"{nodes.url}/")
    token = re.search(r'data-csrf-token="([^"]+)"', page.text).group(1)
    without = browser.post(f"{nodes.url}/api/v1/incidents",
                           json=incident(external_id="NODES-0"))
    assert without.status_code in (400, 403)  # no token, no write
    created = [browser.post(f"{nodes.url}/api/v1/incidents",
                            json=incident(external_id=f"NODES-{i}"),
                            headers={"X-CSRFToken": token}) for i in (1, 2)]
    assert [r.status_code for r in created] == [201, 201], created[0].text[:300]
    # Round robin: the one token, made on one node, was taken by both.
    assert {nodes.node_of(r) for r in created} == set(nodes.node_urls)
    with app.app_context():
        stored = db.session.execute(text(
            "SELECT external_id FROM incidents WHERE external_id LIKE 'NODES-%'")).scalars()
        assert set(stored) == {"NODES-1", "NODES-2"}
        db.session.remove()


def test_failed_sign_ins_on_both_nodes_add_up_to_the_lock_out(cluster):
    nodes, app = cluster
    assert failures(nodes, ["nodes-locked"] * MAX_FAILURES) == set(nodes.node_urls)
    # The right password on either node: the account is locked.
    browser = requests.Session()
    token = csrf_token(browser.get(f"{nodes.url}/login").text)
    refused = [post_sign_in(nodes, browser, token, "nodes-locked", TEST_PASSWORD)
               for _ in range(2)]
    assert {nodes.node_of(r) for r in refused} == set(nodes.node_urls)
    for response in refused:
        assert response.status_code == 401
        assert "locked" in response.text
    with app.app_context():
        locked = db.session.execute(text(
            "SELECT locked_until > now() FROM users WHERE username = 'nodes-locked'"
        )).scalar_one()
        db.session.remove()
    assert locked


def test_a_write_through_one_node_changes_the_cached_tile_of_the_other(cluster, signed_in):
    nodes, _ = cluster
    browser = signed_in[0]
    url = f"{nodes.url}/ogc/tiles/incidents/{Z}/{X}/{Y}.mvt"
    before = {}
    for _ in range(4):  # each node makes the tile, then answers it from its cache
        response = browser.get(url)
        assert response.status_code == 200
        before.setdefault(nodes.node_of(response), []).append(response)
    assert set(before) == set(nodes.node_urls)
    for answers in before.values():
        assert [r.headers["X-Tile-Cache"] for r in answers] == ["miss", "hit"]
    etags = {r.headers["ETag"] for answers in before.values() for r in answers}
    assert len(etags) == 1
    token = re.search(r'data-csrf-token="([^"]+)"', browser.get(f"{nodes.url}/").text).group(1)
    created = browser.post(f"{nodes.url}/api/v1/incidents",
                           json=incident(external_id="NODES-TILE"),
                           headers={"X-CSRFToken": token})
    assert created.status_code == 201
    after = {}
    for _ in range(2):
        response = browser.get(url)
        after[nodes.node_of(response)] = response
    assert set(after) == set(nodes.node_urls)
    for response in after.values():
        assert response.headers["X-Tile-Cache"] == "miss"
        assert response.headers["ETag"] not in etags
    assert len({r.content for r in after.values()}) == 1
    assert after[nodes.node_urls[0]].content != before[nodes.node_urls[0]][0].content


def test_an_address_limit_counts_the_failures_on_both_nodes(cluster):
    nodes, app = cluster
    with app.app_context():
        so_far = db.session.execute(text(
            "SELECT count(*) FROM login_attempts WHERE ip = '127.0.0.1' AND NOT success"
        )).scalar_one()
        db.session.remove()
    assert so_far + 2 <= IP_MAX_FAILURES
    names = [f"nobody-{attempt}" for attempt in range(so_far, IP_MAX_FAILURES)]
    assert failures(nodes, names) == set(nodes.node_urls)
    browser = requests.Session()
    refused, _, _ = sign_in(nodes, browser, "nobody-else", "wrong-password-1")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
