"""Audit-trail benchmark (issue 8): what the per-feature records cost a large write.

Run: ``.venv/bin/python -m bench.audit_bench [--features 10000] [--repeat 2]``

On a throwaway database with the demo's reference layers (``geo.demo.synthetic``, synthetic), an
analyst POSTs a FeatureCollection of ``--features`` synthetic incidents through the API
(one request: validation, COPY to staging, insert, links, audit records, commit), then
PATCHes one of them and DELETEs it. The statements that write ``audit_log`` are timed
inside the same requests (a cursor-execute hook), so the table prints, per request, the
whole request's time, the audit statements' time and count, and their share. Repeated
``--repeat`` times with fresh keys.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

DEMO_END = datetime(2026, 6, 30, tzinfo=UTC)


def setup():
    import flask_migrate

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo
    from testsupport.apps import make_app
    from testsupport.databases import ThrowawayDatabases, server_url

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(db.session, app.config["ANALYSIS_SRID"], n_incidents=1000, end=DEMO_END)
        user = create_user(db.session, "bench-analyst", "analyst", "bench-password")
        _, token = create_token(db.session, user, "bench")
        db.session.commit()
        db.session.remove()
    return databases, app, {"Authorization": f"Bearer {token}"}


def collection(run: int, features: int) -> dict:
    """Synthetic incidents on a small grid inside Georgia (Kakheti)."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature",
         "geometry": {"type": "Point", "coordinates": [45.0 + (i % 100) / 500,
                                                       41.4 + (i // 100) / 2000]},
         "properties": {"source": f"bench-audit-{run}", "external_id": f"A-{i}",
                        "occurred_at": "2026-05-01T00:00:00Z", "category": "illegal_stay",
                        "persons_count": i % 5, "description": "SYNTHETIC benchmark"}}
        for i in range(features)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from sqlalchemy import event

    from app.extensions import db

    databases, app, headers = setup()
    audit_time = {"seconds": 0.0, "statements": 0}

    def before(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith("INSERT INTO audit_log"):
            audit_time["start"] = time.perf_counter()

    def after(_conn, _cursor, statement, *_args):
        if statement.lstrip().startswith("INSERT INTO audit_log"):
            audit_time["seconds"] += time.perf_counter() - audit_time.pop("start")
            audit_time["statements"] += 1

    try:
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
        client = app.test_client()
        print(f"{'request':<28} {'total s':>8} {'audit s':>8} {'stmts':>6} {'share':>6}")
        def measure(label: str, call) -> object:
            audit_time.update(seconds=0.0, statements=0)
            start = time.perf_counter()
            response = call()
            total = time.perf_counter() - start
            assert response.status_code in (200, 201, 204), response.get_data(as_text=True)
            print(f"{label:<28} {total:8.3f} {audit_time['seconds']:8.3f} "
                  f"{audit_time['statements']:6d} {audit_time['seconds'] / total:6.1%}")
            return response

        for run in range(args.repeat):
            body = collection(run, args.features)
            created = measure(f"POST {args.features:,} incidents", lambda body=body: client.post(
                "/api/v1/incidents", json=body, headers=headers)).get_json()
            url = f"/api/v1/incidents/{created['features'][0]['id']}"
            measure("PATCH 1 incident", lambda url=url: client.patch(
                url, headers=headers, json={"properties": {"persons_count": 9}}))
            measure("DELETE 1 incident", lambda url=url: client.delete(url, headers=headers))
        with app.app_context():
            db.engine.dispose()
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()
