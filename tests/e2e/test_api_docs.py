"""The API documentation page, in a real browser: Swagger UI under our strict CSP."""

import pytest

from tests.e2e.test_map_page import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.clock]

# Collects CSP violations, which a page's own scripts could not report once blocked.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_docs_page_renders_every_operation(page, live_server):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    sign_in(page, live_server)

    page.goto(f"{live_server}/api/v1/docs")
    page.wait_for_selector(".opblock")
    document = page.evaluate("fetch('/api/v1/openapi.json').then((r) => r.json())")
    operations = sum(len(methods) for methods in document["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert page.locator(".opblock-tag").count() == len(document["tags"])
    assert page.locator("h1.title").inner_text().startswith("BorderRisk API")
    summary = page.locator("#operations-incidents-create_features_incidents .opblock-summary")
    assert "POST" in summary.inner_text() and "/api/v1/incidents" in summary.inner_text()

    summary.click()  # the operation opens with its parameters and schemas
    body = page.locator("#operations-incidents-create_features_incidents")
    body.locator(".parameters-container").wait_for()
    assert "dry_run" in body.inner_text()
    assert page.evaluate("window.cspViolations") == []
    assert problems == []


def test_try_it_out_sends_the_session_and_csrf_token(page, live_server):
    sign_in(page, live_server)
    page.goto(f"{live_server}/api/v1/docs")
    operation = page.locator("#operations-incidents-delete_feature_incidents")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator("input[placeholder='feature_id']").fill("999999")
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    status.wait_for()
    # 404, not 400 (CSRF refused) or 401: the page's token and cookie went with it.
    assert status.inner_text().strip() == "404"
