"""The inbox in the workspace's top bar, in a real browser: the unread count, the panel
(user text as text), marking one and all read, the e-mail form; in Georgian too."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from app.inbox.fanout import fan_out_batch
from tests.app.inbox.helpers import alert, bulletin, decision
from tests.conftest import TEST_PASSWORD, load_sample_layers, make_app, serving
from tests.e2e.test_map_page import shoot, sign_in, wait_until, watch_console

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def inbox_server(databases):
    """A live server (e-mail offered: SMTP_URL set, no worker sends) where e2e-analyst
    of T-KK has an alert, a decision (its justification HTML-like text) and a bulletin
    of T-KA it must not see."""
    import flask_migrate

    app = make_app(databases.create(), SMTP_URL="smtp://127.0.0.1:9")
    with app.app_context():
        flask_migrate.upgrade()
        ids = load_sample_layers(db.session, app.config["ANALYSIS_SRID"])
        user = create_user(db.session, "e2e-analyst", "analyst", TEST_PASSWORD, ("T-KK",))
        create_user(db.session, "e2e-supervisor", "supervisor", TEST_PASSWORD)
        kk, ka = ids["regions"]["T-KK"], ids["regions"]["T-KA"]
        section = ids["border_segments"]["T-AZ-001"]
        alert(db.session, section, kk, "T-KK")
        decision(db.session, section, kk, "T-KK", by="e2e-supervisor")
        db.session.execute(text("UPDATE events SET data = jsonb_set(data, '{justification}', "
                                "'\"<img src=x onerror=alert(1)> seen\"') "
                                "WHERE type = 'level.decided'"))
        bulletin(db.session, 3, ka, "T-KA")
        fan_out_batch(db.session)
        db.session.commit()
        user_id = user.id
        db.session.remove()
    with serving(app) as url:
        yield url, app, user_id


def _unread(page) -> str:
    return page.get_attribute("#inbox-toggle", "data-unread") or ""


def test_inbox_badge_panel_and_marking_read(page, inbox_server):
    base_url, app, user_id = inbox_server
    problems = watch_console(page)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, base_url)
    wait_until(page, "document.getElementById('inbox-toggle').dataset.unread === '2'")
    assert page.inner_text("#inbox-badge") == "2"
    page.click("#inbox-toggle")
    wait_until(page, "document.getElementById('workspace').dataset.inboxLoaded === 'true'")
    items = page.locator("#inbox-list li")
    assert items.count() == 2  # not T-KA's bulletin
    decision_item = page.locator("#inbox-list li[data-kind='decision']")
    assert "<img src=x onerror=alert(1)> seen" in decision_item.inner_text()
    assert page.locator("#inbox-list img").count() == 0
    alert_item = page.locator("#inbox-list li[data-kind='alert']")
    assert "Alert: section T-AZ-001, 14 incidents against 5.2 expected (October 2026)" in \
        alert_item.inner_text()
    assert alert_item.locator("a.inbox-title").get_attribute("href").startswith("/?region=T-KK")
    shoot(page, "inbox-open")
    alert_item.get_by_role("button", name="Mark read").click()
    wait_until(page, "document.getElementById('inbox-toggle').dataset.unread === '1'")
    assert page.inner_text("#inbox-badge") == "1"
    assert "unread" not in (alert_item.get_attribute("class") or "")
    page.click("#inbox-read-all")
    wait_until(page, "document.getElementById('inbox-toggle').dataset.unread === '0'")
    assert page.locator("#inbox-badge").is_hidden()
    assert page.locator("#inbox-list li.unread").count() == 0
    with app.app_context():
        unread = db.session.execute(text(
            "SELECT count(*) FROM notifications WHERE user_id = :u AND read_at IS NULL"),
            {"u": user_id}).scalar_one()
        db.session.remove()
    assert unread == 0
    assert dialogs == [] and problems == []


def test_inbox_email_form_and_georgian(page, inbox_server):
    base_url, app, user_id = inbox_server
    problems = watch_console(page)
    sign_in(page, base_url)
    page.click("#inbox-toggle")
    form = page.locator("#inbox-mail")
    page.fill("#inbox-email", "not an address")
    page.check("#inbox-email-alerts")
    form.get_by_role("button", name="Save").click()
    page.locator("#inbox-mail .field-error[data-field='email']").filter(
        has_text="not an e-mail address").wait_for()
    page.fill("#inbox-email", "analyst@example.org")
    form.get_by_role("button", name="Save").click()
    page.locator("#inbox-mail .form-status", has_text="Saved.").wait_for()
    with app.app_context():
        stored = db.session.execute(text(
            "SELECT email, email_alerts, email_bulletins FROM users WHERE id = :u"),
            {"u": user_id}).one()
        db.session.remove()
    assert tuple(stored) == ("analyst@example.org", True, False)
    page.goto(f"{base_url}/?lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert "შეტყობინებები" in page.inner_text("#inbox-toggle")
    page.click("#inbox-toggle")
    wait_until(page, "document.getElementById('workspace').dataset.inboxLoaded === 'true'")
    assert "გაფრთხილება: მონაკვეთი T-AZ-001" in page.inner_text("#inbox-list")
    assert "ოქტომბერი" in page.inner_text("#inbox-list")
    assert page.input_value("#inbox-email") == "analyst@example.org"
    shoot(page, "inbox-georgian")
    # The refused address is the one failed request (the browser logs its 422).
    assert [p for p in problems if "422" not in p] == []
