"""Webhooks delivered by real ``flask worker`` processes (spawned on a committed test
database) to a local receiver: a receiver down for a while, a worker SIGKILLed in the
middle of a delivery, two workers at once, a rolled-back write.

The retry timings are compressed through the workers' environment
(``WEBHOOK_RETRY_BASE_S=0.05``, ``WEBHOOK_RETRY_MAX_S=0.2``, ``WEBHOOK_TIMEOUT_S=1``,
``WORKER_POLL_S=0.5``): the same code paths as the defaults (10 s doubling to an hour),
minutes turned into fractions of a second. Nothing here asserts a duration; the waits
are generous upper bounds.
"""

from __future__ import annotations

import collections
import time

import pytest
from sqlalchemy import text

from app.extensions import db
from testsupport.webhooks import (
    Receiver,
    start_worker,
    stop_worker,
    user_headers,
    webhook_app,
    worker_env,
)

pytestmark = pytest.mark.slow

POINT = {"type": "Point", "coordinates": [45.01, 41.32]}
FAST = {"WEBHOOK_RETRY_BASE_S": "0.05", "WEBHOOK_RETRY_MAX_S": "0.2",
        "WEBHOOK_TIMEOUT_S": "1", "WORKER_POLL_S": "0.5"}


@pytest.fixture(scope="module")
def system(databases):
    app = webhook_app(databases)
    headers = user_headers(app, "reliable-gbp", "analyst", "GBP")
    yield app, app.test_client(), headers
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def receiver(system):
    app, _, _ = system
    found = Receiver()
    yield found
    found.close()
    with app.app_context():
        db.session.execute(text("UPDATE subscriptions SET active = false"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def workers(system, tmp_path):
    """Start workers with ``start()``; all are stopped at the end (their log is shown
    when a test fails)."""
    app, _, _ = system
    started = []

    def start(**settings):
        process = start_worker(worker_env(app, **(FAST | settings)),
                               tmp_path / f"worker-{len(started)}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        stop_worker(process)
    for log in sorted(tmp_path.glob("worker-*.log")):
        print(log.name, log.read_text()[-3000:])


def subscribe(client, headers, url, **body) -> int:
    response = client.post("/api/v1/subscriptions", headers=headers,
                           json={"url": url, "types": ["incident.created"], **body})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def write_incidents(client, headers, prefix: str, count: int, per_request: int = 1) -> list[int]:
    """``count`` incidents, ``per_request`` per POST (one transaction each); their ids."""
    ids = []
    for start in range(0, count, per_request):
        features = [{"type": "Feature", "geometry": POINT, "properties": {
            "source": "reliability", "external_id": f"{prefix}-{n}",
            "occurred_at": "2025-06-01T10:00:00Z",
            "category": "illegal_crossing_between_bcp"}}
            for n in range(start, min(count, start + per_request))]
        response = client.post("/api/v1/incidents", headers=headers,
                               json={"type": "FeatureCollection", "features": features})
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()
        ids += [f["id"] for f in body["features"]] if "features" in body else body["ids"]
    return ids


def delivered_ids(receiver, path_part: str = "") -> list[int]:
    return [e["data"]["id"] for r in receiver.accepted() if path_part in r["path"]
            for e in (r["json"] if isinstance(r["json"], list) else [r["json"]])]


def test_a_receiver_down_for_a_while_gets_every_event_in_order_when_back(
        system, receiver, workers):
    _, client, headers = system
    subscribe(client, headers, receiver.url, batch_size=4)
    receiver.status = 503
    workers()
    ids = write_incidents(client, headers, "DOWN", 25)
    assert receiver.wait_for(lambda r: len(r.requests) >= 5, 60), "no retries while down"
    assert receiver.accepted() == []
    receiver.status = 200
    assert receiver.wait_for(lambda r: len(delivered_ids(r)) >= len(ids), 60)
    assert delivered_ids(receiver) == ids  # all, in order, none twice


def test_a_worker_killed_during_a_delivery_loses_nothing_and_redelivers_under_the_same_id(
        system, receiver, workers):
    _, client, headers = system
    subscribe(client, headers, receiver.url, batch_size=5)
    receiver.delay_s = 0.3  # each answer takes a while: the kill lands mid-delivery
    first = workers()
    ids = write_incidents(client, headers, "KILL", 30, per_request=3)
    assert receiver.wait_for(lambda r: len(r.requests) >= 2, 60)
    stop_worker(first, kill=True)
    receiver.delay_s = 0.0
    workers()
    assert receiver.wait_for(lambda r: set(delivered_ids(r)) >= set(ids), 90)
    got = delivered_ids(receiver)
    assert sorted(set(got)) == sorted(ids)
    first_seen = list(dict.fromkeys(got))
    assert first_seen == ids  # in order
    # A duplicate is only a redelivery: the same events under the same delivery id.
    deliveries_of = collections.defaultdict(set)
    for request in receiver.accepted():
        for event in request["json"]:
            deliveries_of[event["id"]].add(request["headers"]["BorderRisk-Delivery"])
    assert all(len(ids_) == 1 for ids_ in deliveries_of.values())


def test_two_workers_deliver_each_event_once_per_subscription(system, receiver, workers):
    _, client, headers = system
    for name, size in (("a", 1), ("b", 1), ("c", 4)):
        subscribe(client, headers, f"{receiver.url}?sub={name}", batch_size=size)
    workers()
    workers()
    ids = write_incidents(client, headers, "TWO", 40, per_request=2)
    for name in "abc":
        assert receiver.wait_for(lambda r, n=name: len(delivered_ids(r, f"sub={n}")) >= 40, 90)
    time.sleep(1.0)  # anything delivered twice would have arrived by now
    for name in "abc":
        counts = collections.Counter(delivered_ids(receiver, f"sub={name}"))
        assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}, name
        assert delivered_ids(receiver, f"sub={name}") == ids


def test_a_rolled_back_write_delivers_nothing(system, receiver, workers):
    app, client, headers = system
    subscribe(client, headers, receiver.url, types=["incident.*"])
    workers()
    with app.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count + 1"))
        db.session.execute(text("DELETE FROM incidents"))
        db.session.rollback()
        db.session.remove()
    refused = client.post("/api/v1/incidents", headers=headers, json={
        "type": "FeatureCollection", "features": [{"type": "Feature", "geometry": POINT,
            "properties": {"source": "reliability", "external_id": "RB-1",
                           "occurred_at": "2025-06-01T10:00:00Z",
                           "category": "illegal_crossing_between_bcp", "persons_count": -1}}]})
    assert refused.status_code == 422
    [marker] = write_incidents(client, headers, "RB-MARK", 1)
    assert receiver.wait_for(lambda r: marker in delivered_ids(r), 60)
    time.sleep(1.0)
    assert [e["type"] for e in receiver.events()] == ["incident.created"]
    assert delivered_ids(receiver) == [marker]
