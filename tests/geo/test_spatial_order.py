"""Incidents are stored in spatial order (issue 6): an import and the demo loader write
their rows along ``geo.queries.staging.SPATIAL_ORDER``, so neighbours share table pages, while
ids still follow the order of the input."""

import csv

import numpy as np
import pytest
from sqlalchemy import text

from geo.io.ingest import import_file
from geo.layers import LAYERS
from tests.conftest import committed_sample_layers

# Spearman correlation of the rows' physical order (ctid) and their spatial order.
PHYSICAL_VS_SPATIAL = text(
    """
    SELECT corr(by_ctid, by_geom) FROM (
        SELECT row_number() OVER (ORDER BY ctid) AS by_ctid,
               row_number() OVER (ORDER BY geom, id) AS by_geom
          FROM incidents WHERE source = :source) AS r
    """
)
# Table pages holding the rows in a small box.
PAGES_IN_BOX = text(
    """
    SELECT count(*) AS rows, count(DISTINCT (ctid::text::point)[0]) AS pages
      FROM incidents
     WHERE source = :source AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
    """
)


def shuffled_csv(path, rows: int, seed: int = 6):
    """SYNTHETIC incidents on a 50 x rows/50 grid near 45.0E 41.3N, in random order;
    returns their external ids in file order."""
    order = np.random.default_rng(seed).permutation(rows)
    ids = []
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["external_id", "occurred_at", "category", "lon", "lat"])
        for i in order:
            ids.append(f"S-{i}")
            writer.writerow([f"S-{i}", "2026-01-01T00:00:00Z", "illegal_stay",
                             45.0 + (i % 50) / 500, 41.3 + (i // 50) / 500])
    return ids


@pytest.fixture
def fresh_session(databases):
    """A session on a new database with the sample layers and no free space left by
    other tests' rolled-back rows (PostgreSQL fills free space first, wherever it is:
    the layout checked below is that of rows appended to the table); rolled back."""
    from app.extensions import db

    app, _ = committed_sample_layers(databases)
    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()


def test_an_import_writes_its_rows_in_spatial_order(fresh_session, analysis_srid, tmp_path):
    db_session = fresh_session
    path = tmp_path / "spatial.csv"
    file_order = shuffled_csv(path, 5_000)
    report = import_file(db_session, LAYERS["incidents"], path, analysis_srid=analysis_srid,
                         source="spatial")
    assert report.inserted == 5_000 and report.written
    params = {"source": "spatial"}
    # In file order the physical and the spatial order are unrelated (0.03 measured);
    # written along the curve they agree.
    assert db_session.execute(PHYSICAL_VS_SPATIAL, params).scalar_one() > 0.9
    # A 0.02 x 0.02 degree box (121 rows; ~50 rows a page) lies on a few pages, not on
    # one page per row as in file order.
    box = db_session.execute(PAGES_IN_BOX, {**params, "x0": 45.039, "y0": 41.339,
                                            "x1": 45.061, "y1": 41.361}).one()
    assert box.rows == 121
    assert box.pages <= 15
    # Ids are still drawn in the file's order, and the report lists them all.
    by_id = db_session.execute(text(
        "SELECT external_id FROM incidents WHERE source = 'spatial' ORDER BY id")).scalars()
    assert list(by_id) == file_order
    stored_ids = db_session.execute(text(
        "SELECT id FROM incidents WHERE source = 'spatial' ORDER BY id")).scalars().all()
    assert report.ids == stored_ids
    # Every row got its derived links in the same write.
    assert db_session.execute(text(
        "SELECT count(*) FROM incidents WHERE source = 'spatial' AND region_id IS NOT NULL "
        "AND nearest_segment_id IS NOT NULL")).scalar_one() == 5_000


def test_the_demo_incidents_are_stored_in_spatial_order(demo_app):
    from app.extensions import db

    app, _, _ = demo_app
    with app.app_context():
        correlation = db.session.execute(PHYSICAL_VS_SPATIAL,
                                         {"source": "demo-synthetic"}).scalar_one()
        # Ids follow the generator's order, which is by time.
        ordered = db.session.execute(text(
            "SELECT bool_and(occurred_at >= previous) FROM (SELECT occurred_at, "
            "lag(occurred_at) OVER (ORDER BY id) AS previous FROM incidents "
            "WHERE source = 'demo-synthetic') AS t")).scalar_one()
        db.session.remove()
    assert correlation > 0.95
    assert ordered


def test_the_maintenance_command_clusters_a_table_written_in_another_order(databases):
    """On committed rows: CLUSTER runs as the schema's owner on a connection of its own
    (the web app's role may not), so it would wait for a test's open transaction."""
    from app.extensions import db

    app, ids = committed_sample_layers(databases)
    params = {"source": "shuffled", "x0": 45.039, "y0": 41.339, "x1": 45.061, "y1": 41.361}
    with app.app_context():
        # SYNTHETIC rows written in a random order on purpose (as updates over time
        # would leave them), on the same 50 x 100 grid.
        db.session.execute(text("SELECT setseed(0.6)"))
        db.session.execute(text(
            """
            INSERT INTO incidents (source, external_id, occurred_at, category, outcome,
                                   persons_count, source_reliability,
                                   information_credibility, status, geom)
            SELECT 'shuffled', 'X-' || i, t.occurred_at, t.category, t.outcome,
                   t.persons_count, t.source_reliability, t.information_credibility,
                   t.status,
                   ST_SetSRID(ST_MakePoint(45.0 + (i % 50) / 500.0,
                                           41.3 + (i / 50) / 500.0), 4326)
              FROM generate_series(0, 4999) AS i
             CROSS JOIN (SELECT * FROM incidents WHERE id = :sample) AS t
             ORDER BY random()
            """), {"sample": ids["incidents"]["T-1"]})
        db.session.commit()
        before = db.session.execute(PAGES_IN_BOX, params).one()
        db.session.remove()
    assert before.rows == 121 and before.pages > 50, before

    refused = app.test_cli_runner().invoke(args=["db-maintenance", "cluster"], input="n\n")
    assert refused.exit_code == 1 and "locks the incidents table" in refused.output
    done = app.test_cli_runner().invoke(args=["db-maintenance", "cluster", "--yes"])
    assert done.exit_code == 0, done.output
    assert "incidents clustered" in done.output
    with app.app_context():
        after = db.session.execute(PAGES_IN_BOX, params).one()
        db.session.remove()
        db.engine.dispose()
    # GiST order: not quite the curve of an import, but a few pages instead of one a row.
    assert after.rows == 121 and after.pages <= 25
