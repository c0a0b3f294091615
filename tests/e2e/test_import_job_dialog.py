"""The import dialog follows an import job (202) in a real browser: rows read so far,
then the job's report."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from geo.io.readers import BATCH_ROWS
from tests.app.api.test_import_jobs import write_csv
from tests.conftest import TEST_PASSWORD, load_sample_layers, make_app, serving
from tests.e2e.test_map_page import shoot, sign_in, watch_console

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def job_server(databases, tmp_path_factory):
    """A live server whose every import answers 202 (``IMPORT_SYNC_WAIT_S`` 0); (its URL,
    its app)."""
    import flask_migrate

    app = make_app(databases.create(), IMPORT_SYNC_WAIT_S=0,
                   UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")))
    with app.app_context():
        flask_migrate.upgrade()
        load_sample_layers(db.session, app.config["ANALYSIS_SRID"])
        create_user(db.session, "e2e-analyst", "analyst", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield url, app


def test_import_dialog_shows_rows_read_then_the_report(page, job_server, tmp_path):
    base_url, app = job_server
    rows = 3 * BATCH_ROWS
    path = write_csv(tmp_path / "dialog.csv", rows, prefix="DIALOG")
    problems = watch_console(page)
    sign_in(page, base_url)
    page.click("#open-import")
    page.set_input_files("#import-file", str(path))
    page.fill("#import-source", "e2e-job")
    page.uncheck("#import-dry-run")
    page.click("#import-dialog button[type='submit']")
    progress = page.locator("#import-report", has_text="rows read")
    progress.wait_for(timeout=60_000)
    assert "Importing…" in progress.inner_text()
    report = page.locator("#import-report table.report")
    report.wait_for(timeout=120_000)
    text_shown = page.locator("#import-report").inner_text()
    assert text_shown.startswith("Imported:")
    assert f"inserted\t{rows:,}" in text_shown
    shoot(page, "import-job-report")
    with app.app_context():
        stored = db.session.execute(text(
            "SELECT count(*) FROM incidents WHERE source = 'e2e-job'")).scalar_one()
        db.session.remove()
    assert stored == rows
    assert problems == []
