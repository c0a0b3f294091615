"""The worker's webhook job, run in this process against a local receiver: signed
CloudEvents, releasability and region scope of the owner, batches, redirects refused,
the delivery log and replays, pausing after failures and telling the owner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from app.extensions import db
from app.webhooks import signing
from app.webhooks.delivery import deliver_webhooks
from config import BASE_DIR
from testsupport.webhooks import Receiver, user_headers, webhook_app

POINT = {"type": "Point", "coordinates": [45.01, 41.32]}  # in T-KK


@pytest.fixture(scope="module")
def hooks(databases):
    app = webhook_app(databases, WEBHOOK_RETRY_BASE_S=0.01, WEBHOOK_RETRY_MAX_S=0.05)
    headers = {name: user_headers(app, f"hooks-{name}", "analyst", agency)
               for name, agency in (("gbp", "GBP"), ("md", "MD"), ("ppd", "PPD"))}
    yield app, app.test_client(), headers
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def receiver(hooks):
    app, _, _ = hooks
    found = Receiver()
    yield found
    found.close()
    with app.app_context():  # the next test's subscriptions alone are delivered
        db.session.execute(text("UPDATE subscriptions SET active = false"))
        db.session.commit()
        db.session.remove()


def deliver(app) -> None:
    with app.app_context():
        deliver_webhooks(app)


def subscribe(client, headers, url, **body) -> dict:
    response = client.post("/api/v1/subscriptions", headers=headers, json={"url": url, **body})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def incident(client, headers, external_id: str, **properties) -> int:
    response = client.post("/api/v1/incidents", headers=headers, json={
        "type": "Feature", "geometry": POINT, "properties": {
            "source": "hooks-test", "external_id": external_id,
            "occurred_at": "2025-06-01T10:00:00Z", "category": "illegal_crossing_between_bcp",
            "persons_count": 1, **properties}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def readme_receiver() -> dict:
    """The namespace of the README's receiver example (its code, run as a module)."""
    readme = (Path(BASE_DIR) / "README.md").read_text()
    section = readme.split("## Receiving webhooks", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {"__name__": "readme_receiver"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102  (our own README)
    return namespace


def test_a_delivery_is_a_signed_cloudevent_the_readmes_receiver_verifies(hooks, receiver):
    app, client, headers = hooks
    created = subscribe(client, headers["gbp"], receiver.url, types=["incident.created"])
    feature_id = incident(client, headers["gbp"], "H-1")
    deliver(app)
    [request] = receiver.accepted()
    body, sent = request["body"], request["headers"]
    assert sent["Content-Type"] == "application/cloudevents+json"
    event = request["json"]
    assert event["type"] == "incident.created" and event["subject"] == f"incidents/{feature_id}"
    assert event["specversion"] == "1.0" and event["data"]["id"] == feature_id
    header = sent["BorderRisk-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    verified = readme_receiver()["verified"]
    assert verified(created["secret"], header, body)
    assert not verified(created["secret"], header, body + b" ")
    assert not verified("whsec_another", header, body)
    t = header.split(",")[0][2:]
    old = f"t={int(t) - 3600},v1={signing.signature(created['secret'], int(t) - 3600, body)}"
    assert not verified(created["secret"], old, body)  # a replayed old request
    assert signing.verify(created["secret"], header, body)
    assert len(sent["BorderRisk-Delivery"]) == 36 and sent["BorderRisk-Event-Count"] == "1"


def test_a_subscriber_of_md_does_not_receive_a_record_released_only_to_gbp(hooks, receiver):
    app, client, headers = hooks
    subscribe(client, headers["md"], receiver.url + "?who=md")
    subscribe(client, headers["gbp"], receiver.url + "?who=gbp")
    hidden = incident(client, headers["gbp"], "H-GBP-ONLY", releasability="agency")
    shared = incident(client, headers["gbp"], "H-ALL", releasability="all")
    deliver(app)
    got = {"md": [], "gbp": []}
    for request in receiver.accepted():
        got[request["path"].split("who=")[1]].append(request["json"]["data"]["id"])
    assert got["gbp"] == [hidden, shared]
    assert got["md"] == [shared]
    assert not [r for r in receiver.requests if "md" in r["path"] and b"H-GBP-ONLY" in r["body"]]
    # Released to MD later: MD is told of it then, as created.
    response = client.patch(f"/api/v1/incidents/{hidden}", headers=headers["gbp"],
                            json={"properties": {"releasability": ["MD"]}})
    assert response.status_code == 200, response.get_data(as_text=True)
    deliver(app)
    md = [r["json"] for r in receiver.accepted() if "md" in r["path"]]
    assert (md[-1]["type"], md[-1]["data"]["id"]) == ("incident.created", hidden)


def test_batches_are_cloudevents_batches_in_order(hooks, receiver):
    app, client, headers = hooks
    subscribe(client, headers["gbp"], receiver.url, batch_size=3, types="incident.created")
    ids = [incident(client, headers["gbp"], f"H-B{n}") for n in range(7)]
    deliver(app)
    requests = receiver.accepted()
    assert [len(r["json"]) for r in requests] == [3, 3, 1]
    assert all(r["headers"]["Content-Type"] == "application/cloudevents-batch+json"
               for r in requests)
    assert [e["data"]["id"] for e in receiver.events()] == ids


def test_a_redirect_is_a_failed_attempt_and_its_location_is_never_fetched(hooks, receiver):
    app, client, headers = hooks
    created = subscribe(client, headers["gbp"], receiver.url)
    receiver.status = 302
    incident(client, headers["gbp"], "H-R1")
    deliver(app)
    assert receiver.requests and receiver.fetched == []
    log = client.get(f"/api/v1/subscriptions/{created['id']}/deliveries",
                     headers=headers["gbp"]).get_json()["deliveries"]
    assert log[0]["status_code"] == 302 and not log[0]["succeeded"]
    assert "redirect" in log[0]["error"]


def test_the_log_records_retries_under_one_delivery_id_and_a_replay_resends(hooks, receiver):
    app, client, headers = hooks
    created = subscribe(client, headers["gbp"], receiver.url)
    receiver.status = 503
    feature_id = incident(client, headers["gbp"], "H-L1")
    deliver(app)
    with app.app_context():  # due again now (the retry delay is compressed anyway)
        db.session.execute(text("UPDATE subscriptions SET next_attempt_at = now()"))
        db.session.commit()
        db.session.remove()
    deliver(app)
    receiver.status = 200
    with app.app_context():
        db.session.execute(text("UPDATE subscriptions SET next_attempt_at = now()"))
        db.session.commit()
        db.session.remove()
    deliver(app)
    path = f"/api/v1/subscriptions/{created['id']}/deliveries"
    log = client.get(path, headers=headers["gbp"]).get_json()["deliveries"]
    assert [e["attempt"] for e in log] == [3, 2, 1]
    assert [e["status_code"] for e in log] == [200, 503, 503]
    assert len({e["delivery_id"] for e in log}) == 1
    assert log[0]["first_event_id"] == log[0]["last_event_id"] and log[0]["event_count"] == 1
    assert log[0]["latency_ms"] >= 0 and log[1]["error"].startswith("HTTP 503")
    assert len({r["headers"]["BorderRisk-Delivery"] for r in receiver.requests}) == 1
    # Another user cannot read the log; the owner replays the delivery.
    assert client.get(path, headers=headers["ppd"]).status_code == 404
    replayed = client.post(f"{path}/{log[0]['delivery_id']}/replay", headers=headers["gbp"])
    assert replayed.status_code == 200, replayed.get_data(as_text=True)
    assert replayed.get_json()["replay"] and replayed.get_json()["status_code"] == 200
    last = receiver.accepted()[-1]
    assert last["headers"]["BorderRisk-Delivery"] == log[0]["delivery_id"]
    assert last["json"]["data"]["id"] == feature_id
    assert client.post(f"{path}/00000000-0000-0000-0000-000000000000/replay",
                       headers=headers["gbp"]).status_code == 404


def test_a_subscription_failing_long_enough_is_paused_and_its_owner_told(hooks, receiver):
    app, client, headers = hooks
    app.config["WEBHOOK_PAUSE_AFTER_HOURS"] = 1e-9
    try:
        created = subscribe(client, headers["ppd"], receiver.url)
        receiver.status = 500
        incident(client, headers["gbp"], "H-P1")
        deliver(app)
        with app.app_context():
            db.session.execute(text("UPDATE subscriptions SET next_attempt_at = now()"))
            db.session.commit()
            db.session.remove()
        deliver(app)
    finally:
        app.config["WEBHOOK_PAUSE_AFTER_HOURS"] = 24.0
    view = client.get(f"/api/v1/subscriptions/{created['id']}",
                      headers=headers["ppd"]).get_json()
    assert view["paused"] and "HTTP 500" in view["pause_reason"]
    sent = len(receiver.requests)
    deliver(app)
    assert len(receiver.requests) == sent  # paused: nothing more is sent
    with app.app_context():
        told = db.session.execute(text(
            "SELECT n.title FROM notifications AS n JOIN users AS u ON u.id = n.user_id "
            "WHERE u.username = 'hooks-ppd' AND n.kind = 'webhook'")).scalars().all()
        db.session.remove()
    assert told == [f"Webhook subscription {created['id']} paused"]
    # Resumed, it delivers where it stopped.
    receiver.status = 200
    resumed = client.patch(f"/api/v1/subscriptions/{created['id']}", headers=headers["ppd"],
                           json={"active": True})
    assert resumed.status_code == 200 and not resumed.get_json()["paused"]
    deliver(app)
    assert receiver.accepted()[-1]["json"]["data"]["properties"]["external_id"] == "H-P1"


def test_an_address_of_this_machine_is_refused_unless_allowed_by_itself(hooks, receiver):
    from app.webhooks.targets import TargetError, parse_target, resolve

    target = parse_target(f"http://localhost:{receiver.port}/hook", ("localhost",))
    with pytest.raises(TargetError, match="this machine"):
        resolve(target, ("localhost",))
    assert resolve(target, ("localhost", "127.0.0.1", "::1")) in ("127.0.0.1", "::1")


@pytest.mark.parametrize("address, internal", [
    ("100.100.100.200", True),   # shared address space (a cloud's metadata service)
    ("169.254.169.254", True), ("10.1.2.3", True), ("192.168.0.1", True),
    ("127.0.0.1", True), ("0.0.0.0", True),  # noqa: S104 ("224.0.0.1", True),
    ("fec0::1", True),           # IPv6 site-local
    ("fd00::1", True), ("fe80::1", True), ("::1", True),
    ("::ffff:127.0.0.1", True),  # IPv4-mapped
    ("2002:7f00:1::1", True),    # 6to4 of 127.0.0.1
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo of a private client
    ("8.8.8.8", False), ("2001:4860:4860::8888", False), ("93.184.216.34", False),
])
def test_only_public_unicast_addresses_count_as_outside(address, internal):
    import ipaddress

    from app.webhooks.targets import _internal

    assert _internal(ipaddress.ip_address(address)) is internal
