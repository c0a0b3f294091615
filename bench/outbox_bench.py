"""What the events outbox costs an import (issue 17): the same file imported with the
capture triggers on and off, same database, same run.

Run it with::

    .venv/bin/python -m bench.outbox_bench [--rows 100000] [--rounds 2]

On one throwaway database (``bench.import_bench``'s: migrated, the demo's reference
layers), ``--rows`` synthetic incidents are written as a CSV; each round imports it
into an empty ``incidents`` table twice in a fresh process (``import_file`` + commit,
what ``flask import`` runs), once as shipped (one event per row, written by the
statement triggers of migration ``e7b2c4d9f1a0``) and once with those triggers
disabled by the schema's owner (what the import cost before the outbox), alternating
which goes first. It prints each time, the events written, and the ratio on/off.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.import_bench import (
    connect,
    empty_incidents,
    prepare_database,
    run_our_import,
    write_incident_files,
)
from testsupport.databases import ThrowawayDatabases, owner_url, server_url

TRIGGERS = ("events_capture_insert", "events_capture_update", "events_capture_delete")


def set_capture(owner, enabled: bool) -> None:
    connection = connect(owner)
    with connection, connection.cursor() as cursor:
        for trigger in TRIGGERS:
            cursor.execute(f"ALTER TABLE incidents {'ENABLE' if enabled else 'DISABLE'} "
                           f"TRIGGER {trigger}")
    connection.close()


def count_events(owner) -> int:
    connection = connect(owner)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE entity = 'incidents'")
        count = cursor.fetchone()[0]
        cursor.execute("DELETE FROM events")
    connection.close()
    return count


def benchmark(rows: int, rounds: int) -> None:
    from app import create_app

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    url = make_url(databases.create())
    try:
        url_text = url.render_as_string(hide_password=False)
        owner = make_url(owner_url(url_text))
        app = create_app({"SQLALCHEMY_DATABASE_URI": url_text,
                          "DATABASE_OWNER_URI": owner.render_as_string(hide_password=False)})
        prepare_database(app, with_demo_incidents=False)
        seconds: dict[bool, list[float]] = {True: [], False: []}
        with tempfile.TemporaryDirectory(prefix="borderrisk-outbox-") as tmp:
            _, csv_path, _ = write_incident_files(rows, Path(tmp))
            for number in range(rounds):
                for enabled in ((True, False) if number % 2 == 0 else (False, True)):
                    empty_incidents(owner, keep_demo=False)
                    count_events(owner)
                    set_capture(owner, enabled)
                    timing, result = run_our_import(csv_path, url_text, "import")
                    events = count_events(owner)
                    expected = rows if enabled else 0
                    if result["inserted"] != rows or events != expected:
                        raise SystemExit(f"expected {rows} rows and {expected} events, got "
                                         f"{result['inserted']} and {events}")
                    seconds[enabled].append(timing.seconds)
                    print(f"round {number + 1}, outbox {'on ' if enabled else 'off'}: "
                          f"{timing.seconds:7.2f} s, {events:,} events", flush=True)
            set_capture(owner, True)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    finally:
        databases.drop_all()
    on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(f"\n{rows:,} incidents (CSV), median of {rounds}: outbox on {on:.2f} s, "
          f"off {off:.2f} s: ratio on/off {on / off:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    benchmark(args.rows, args.rounds)


if __name__ == "__main__":
    main()
