"""A partner system that lists once and then follows the change feed holds exactly what
the API lists, whatever happened meanwhile (issue 17).

Seeded random interleavings of creates, updates, moves between regions, releasability
changes, deletes and file imports by three agencies' analysts, with partners of every
agency and one restricted to a region taking their cursor, listing and following at
random moments; at the end each partner's copy equals the API's list for it, feature
by feature (diff = 0).
"""

from __future__ import annotations

import random

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from testsupport.agencies import AGENCIES
from testsupport.apps import TEST_PASSWORD, committed_sample_layers
from testsupport.feeds import FeedFollower

WRITERS = ("GBP", "PPD", "MD")
# A point in each test region (tests/data/sample_layers.geojson).
PLACES = {"T-KK": (44.87, 41.40), "T-KA": (45.27, 41.40)}
SOURCE = "feed-sync"


@pytest.fixture(scope="module")
def sync_app(databases):
    app, _ = committed_sample_layers(databases)
    headers = {}
    with app.app_context():
        users = [(f"{a}-analyst", "analyst", a, ()) for a in WRITERS]
        users += [(f"{a}-viewer", "viewer", a, ()) for a in AGENCIES]
        users.append(("GBP-west", "viewer", "GBP", ("T-KK",)))
        for name, role, agency, regions in users:
            user = create_user(db.session, f"sync-{name}", role, TEST_PASSWORD, regions,
                               all_regions=not regions, agency=agency)
            _, token = create_token(db.session, user, "test")
            headers[name] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    yield app, headers
    with app.app_context():
        db.engine.dispose()


class World:
    """The writes of a run: what exists (id -> (agency, external id)), made through the
    API by each record's own agency."""

    def __init__(self, client, headers, rng: random.Random, tag: str):
        self.client, self.headers, self.rng, self.tag = client, headers, rng, tag
        self.records: dict[int, tuple[str, str]] = {}
        self.serial = 0

    def _point(self) -> dict:
        lon, lat = PLACES[self.rng.choice(sorted(PLACES))]
        return {"type": "Point", "coordinates": [lon + self.rng.uniform(0, 0.05), lat]}

    def _release(self, agency: str):
        others = [a for a in AGENCIES if a != agency]
        return self.rng.choice(["all", "agency", sorted(self.rng.sample(others, 1)),
                                sorted(self.rng.sample(others, 2))])

    def _check(self, response, *statuses):
        assert response.status_code in statuses, response.get_data(as_text=True)
        return response

    def create(self) -> None:
        agency = self.rng.choice(WRITERS)
        self.serial += 1
        external_id = f"{self.tag}-{self.serial}"
        response = self._check(self.client.post(
            "/api/v1/incidents", headers=self.headers[f"{agency}-analyst"], json={
                "type": "Feature", "geometry": self._point(), "properties": {
                    "source": SOURCE, "external_id": external_id,
                    "occurred_at": "2026-10-05T10:00:00Z",
                    "category": "illegal_crossing_between_bcp",
                    "persons_count": self.rng.randint(1, 9),
                    "releasability": self._release(agency)}}), 201)
        self.records[response.get_json()["id"]] = (agency, external_id)

    def _pick(self):
        return self.rng.choice(sorted(self.records)) if self.records else None

    def patch(self, properties: dict | None = None, geometry: dict | None = None) -> None:
        feature_id = self._pick()
        if feature_id is None:
            return self.create()
        agency = self.records[feature_id][0]
        body = {"properties": properties or {}}
        if geometry is not None:
            body["geometry"] = geometry
        self._check(self.client.patch(f"/api/v1/incidents/{feature_id}",
                                      headers=self.headers[f"{agency}-analyst"], json=body),
                    200)

    def update(self) -> None:
        self.patch({"persons_count": self.rng.randint(1, 9)})

    def move(self) -> None:
        self.patch(geometry=self._point())

    def release(self) -> None:
        feature_id = self._pick()
        if feature_id is None:
            return self.create()
        agency = self.records[feature_id][0]
        self._check(self.client.patch(
            f"/api/v1/incidents/{feature_id}", headers=self.headers[f"{agency}-analyst"],
            json={"properties": {"releasability": self._release(agency)}}), 200)

    def delete(self) -> None:
        feature_id = self._pick()
        if feature_id is None:
            return self.create()
        agency, _ = self.records.pop(feature_id)
        self._check(self.client.delete(f"/api/v1/incidents/{feature_id}",
                                       headers=self.headers[f"{agency}-analyst"]), 204)

    def import_file(self, tmp_path) -> None:
        """A CSV of the agency's: some of its records again (changed), some new."""
        agency = self.rng.choice(WRITERS)
        own = [e for a, e in self.records.values() if a == agency]
        again = self.rng.sample(own, min(len(own), self.rng.randint(0, 3)))
        new = []
        for _ in range(self.rng.randint(1, 4)):
            self.serial += 1
            new.append(f"{self.tag}-{self.serial}")
        lines = ["source,external_id,occurred_at,category,persons_count,lon,lat"]
        for external_id in again + new:
            lon, lat = self._point()["coordinates"]
            lines.append(f"{SOURCE},{external_id},2026-10-06T10:00:00Z,smuggling_drugs,"
                         f"{self.rng.randint(1, 9)},{lon},{lat}")
        path = tmp_path / f"{self.tag}-{self.serial}.csv"
        path.write_text("\n".join(lines) + "\n")
        with open(path, "rb") as stream:
            boundary, body = encode_multipart({"file": FileStorage(stream, filename=path.name)})
        response = self._check(self.client.post(
            "/api/v1/import/incidents", data=body,
            headers=self.headers[f"{agency}-analyst"],
            content_type=f"multipart/form-data; boundary={boundary}"), 200)
        assert response.get_json()["written"] is True
        listed = self.client.get("/api/v1/incidents", headers=self.headers["GBP-viewer"],
                                 query_string={"limit": 1})  # keeps the session warm
        assert listed.status_code == 200
        ids = self._ids_of(agency, new)
        for external_id, feature_id in ids.items():
            self.records[feature_id] = (agency, external_id)

    def _ids_of(self, agency: str, external_ids: list[str]) -> dict[str, int]:
        response = self.client.get("/api/v1/incidents", headers=self.headers[f"{agency}-analyst"],
                                   query_string={"limit": 10000, "agency": agency})
        return {f["properties"]["external_id"]: f["id"] for f in response.get_json()["features"]
                if f["properties"]["external_id"] in external_ids}


def _getter(client, headers):
    def get(path, params):
        response = client.get(path, headers=headers, query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()
    return get


def _listing(client, headers) -> dict[int, dict]:
    follower = FeedFollower(_getter(client, headers))
    follower.load_listing("incidents")
    return follower.store["incidents"]


PARTNERS = ("GBP-viewer", "PPD-viewer", "MD-viewer", "IAD-viewer", "GBP-west")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_partner_that_lists_once_then_follows_holds_what_the_api_lists(sync_app, seed,
                                                                         tmp_path):
    app, headers = sync_app
    client = app.test_client()
    rng = random.Random(seed)
    world = World(client, headers, rng, f"S{seed}")
    operations = [world.create] * 4 + [world.update, world.move, world.release,
                                       world.release, world.delete,
                                       lambda: world.import_file(tmp_path)]
    for _ in range(6):
        world.create()
    partners = {name: FeedFollower(_getter(client, headers[name]), limit=rng.choice([3, 50]))
                for name in PARTNERS}
    # Each partner takes its cursor, lists and follows at moments of its own.
    stage = {name: 0 for name in PARTNERS}
    for _ in range(45):
        rng.choice(operations)()
        for name, partner in partners.items():
            if rng.random() > 0.3:
                continue
            if stage[name] == 0:
                partner.start_at_head()
            elif stage[name] == 1:
                partner.load_listing("incidents")
            else:
                partner.follow()
            stage[name] = min(stage[name] + 1, 2)
    for name, partner in partners.items():
        if stage[name] == 0:
            partner.start_at_head()
        if stage[name] <= 1:
            world.update()
            partner.load_listing("incidents")
        world.release()
        partner.follow()
    for name, partner in partners.items():
        partner.follow()  # the writes after its last look, by the loop above
        listed = _listing(client, headers[name])
        held = partner.store.get("incidents", {})
        assert set(held) == set(listed), name
        differing = [i for i in listed if held[i] != listed[i]]
        assert differing == [], (name, differing[:3])
    # The interleavings did what they are for: every partner saw a tombstone of a record
    # that still exists (released to it no more, or moved out of its regions).
    existing = set(world.records)
    lost_sight = {name: any(e["type"] == "incident.deleted" and e["data"]["id"] in existing
                            for e in partner.events) for name, partner in partners.items()}
    assert sum(lost_sight.values()) >= 2, lost_sight
