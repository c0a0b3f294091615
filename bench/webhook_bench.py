"""Webhook benchmark (issue 17): commit-to-delivery latency, and a 100,000-incident import
delivered as CloudEvents batches.

Run it with::

    .venv/bin/python -m bench.webhook_bench [--rate 50] [--seconds 20] [--rows 100000]

On one throwaway database (created on the server the app uses, migrated, with the demo's
reference layers; dropped at the end), with one ``flask worker`` process (the default
settings) and a receiver in this process on 127.0.0.1 (answers 204 at once):

1. **latency**: one subscription (``batch_size`` 1, ``incident.created``); incidents are
   committed one per transaction at ``--rate`` per second for ``--seconds`` by a
   connection of this process; each event's latency is the time from its commit
   returning to the receiver having read its request (p50, p90, p99, max);
2. **burst**: ``--rows`` synthetic incidents (``bench.import_bench``'s CSV) imported
   with ``geo.io.ingest.import_file`` (one transaction) on an empty ``incidents``
   table, twice without a subscription and twice with one (``batch_size`` 500,
   ``incident.created``), alternately; for the latter, the events delivered per second
   from the commit to the last event received. The import's own time is measured
   around ``import_file`` + ``commit`` in both cases.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import text

from bench.import_bench import prepare_database, write_incident_files
from testsupport.apps import make_app
from testsupport.databases import ThrowawayDatabases, server_url
from testsupport.webhooks import start_worker, stop_worker, worker_env


class CountingReceiver:
    """Records the arrival time (monotonic s) of each event, by its subject."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.monotonic()
                events = json.loads(body)
                events = events if isinstance(events, list) else [events]
                with receiver.lock:
                    for event in events:
                        receiver.arrivals.setdefault(
                            event["data"]["properties"]["external_id"], now)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, keys, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if all(k in self.arrivals for k in keys):
                    return True
            time.sleep(0.01)
        return False


def subscribe(client, headers, url, batch_size: int) -> int:
    response = client.post("/api/v1/subscriptions", headers=headers, json={
        "url": url, "types": ["incident.created"], "batch_size": batch_size})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def deactivate(client, headers, subscription_id: int) -> None:
    response = client.patch(f"/api/v1/subscriptions/{subscription_id}", headers=headers,
                            json={"active": False})
    assert response.status_code == 200


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def latency_run(app, client, headers, receiver, rate: float, seconds: float) -> dict:
    from app.extensions import db

    subscription = subscribe(client, headers, receiver.url, 1)
    committed: dict[str, float] = {}
    insert = text("""
        INSERT INTO incidents (source, external_id, occurred_at, category, outcome,
                               persons_count, source_reliability, information_credibility,
                               status, geom)
        VALUES ('bench-latency', :external_id, '2026-06-01T10:00:00Z',
                'illegal_crossing_between_bcp', 'attempted', 1, 'B', 2, 'draft',
                ST_SetSRID(ST_MakePoint(45.0 + :n * 1e-5, 41.5), 4326))""")
    count = int(rate * seconds)
    with app.app_context():
        started = time.monotonic()
        for n in range(count):
            due = started + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            key = f"LAT-{n}"
            db.session.execute(insert, {"external_id": key, "n": n})
            db.session.commit()
            committed[key] = time.monotonic()
        db.session.remove()
    complete = receiver.wait_for(committed, 120)
    deactivate(client, headers, subscription)
    latencies = [(receiver.arrivals[k] - t) * 1000 for k, t in committed.items()
                 if k in receiver.arrivals]
    return {"events": count, "delivered": len(latencies), "complete": complete,
            "p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
            "p99_ms": percentile(latencies, 99), "max_ms": max(latencies)}


def burst_run(app, client, headers, receiver, csv_path: Path, with_subscription: bool,
              label: str) -> dict:
    from app.extensions import db
    from geo.io.ingest import import_file
    from geo.layers import LAYERS

    subscription = subscribe(client, headers, receiver.url, 500) if with_subscription else None
    with app.app_context():
        started = time.perf_counter()
        report = import_file(db.session, LAYERS["incidents"], csv_path, source=label,
                             analysis_srid=app.config["ANALYSIS_SRID"])
        db.session.commit()
        committed = time.monotonic()
        seconds = time.perf_counter() - started
        db.session.remove()
    rows = report.inserted
    result = {"label": label, "subscription": with_subscription, "rows": rows,
              "import_s": seconds}
    if subscription is not None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with receiver.lock:
                got = len(receiver.arrivals)
            if got >= rows:
                break
            time.sleep(0.05)
        with receiver.lock:
            arrivals = list(receiver.arrivals.values())
            receiver.arrivals.clear()
        last = max(arrivals) if arrivals else committed
        result.update(delivered=len(arrivals), first_s=min(arrivals) - committed,
                      last_s=last - committed,
                      events_per_s=len(arrivals) / (last - committed))
        deactivate(client, headers, subscription)
    with app.app_context():  # an empty table for the next run (its events go to no one)
        db.session.execute(text("DELETE FROM incidents"))
        db.session.commit()
        db.session.remove()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    worker = None
    try:
        app = make_app(databases.create(), WEBHOOK_ALLOWED_HOSTS=("127.0.0.1",))
        prepare_database(app, with_demo_incidents=False)
        from testsupport.webhooks import user_headers

        headers = user_headers(app, "bench-hooks", "analyst", "GBP")
        client = app.test_client()
        receiver = CountingReceiver()
        directory = Path(tempfile.mkdtemp(prefix="borderrisk-webhook-bench-"))
        worker = start_worker(worker_env(app, BORDERRISK_ENV="development"),
                              directory / "worker.log")
        time.sleep(3)  # the worker's start-up
        latency = latency_run(app, client, headers, receiver, args.rate, args.seconds)
        print(f"latency at {args.rate:g} events/s for {args.seconds:g} s: "
              f"{latency['delivered']}/{latency['events']} delivered; p50 "
              f"{latency['p50_ms']:.1f} ms, p90 {latency['p90_ms']:.1f} ms, p99 "
              f"{latency['p99_ms']:.1f} ms, max {latency['max_ms']:.1f} ms", flush=True)
        receiver.arrivals.clear()
        _, csv_path, _ = write_incident_files(args.rows, directory)
        runs = []
        for number, with_subscription in enumerate((False, True, False, True)):
            run = burst_run(app, client, headers, receiver, csv_path, with_subscription,
                            f"burst-{number}")
            runs.append(run)
            line = (f"import of {run['rows']} incidents, "
                    f"{'one subscription' if with_subscription else 'no subscription'}: "
                    f"{run['import_s']:.2f} s")
            if with_subscription:
                line += (f"; {run['delivered']} events delivered, first {run['first_s']:.2f} s "
                         f"and last {run['last_s']:.2f} s after the commit: "
                         f"{run['events_per_s']:,.0f} events/s")
            print(line, flush=True)
        plain = statistics.median(r["import_s"] for r in runs if not r["subscription"])
        subscribed = statistics.median(r["import_s"] for r in runs if r["subscription"])
        rate = statistics.median(r["events_per_s"] for r in runs if r["subscription"])
        print(f"median import: {plain:.2f} s without, {subscribed:.2f} s with a subscription "
              f"({(subscribed / plain - 1) * 100:+.1f} %); median delivery {rate:,.0f} events/s")
        print(f"goals: p50 < 200 ms {'met' if latency['p50_ms'] < 200 else 'MISSED'}, "
              f"p99 < 1 s {'met' if latency['p99_ms'] < 1000 else 'MISSED'}, "
              f">= 1,000 events/s {'met' if rate >= 1000 else 'MISSED'}, import at most 10 % "
              f"slower {'met' if subscribed <= plain * 1.10 else 'MISSED'}")
    finally:
        if worker is not None:
            stop_worker(worker)
        databases.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
