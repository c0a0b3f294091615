"""A partner system in tests: follows the change feed (``GET /api/v1/changes``) with
a client and keeps the features it was told of, by collection and id."""

from __future__ import annotations

from geo.events.types import PREFIX_LAYERS


class FeedFollower:
    """Applies the feed's events to a local copy: a created/updated event stores its
    Feature, a deleted one removes the id. ``get`` is a function (path, params) -> the
    response's JSON (raising on an error)."""

    def __init__(self, get, cursor: str | None = None, limit: int = 100):
        self.get, self.cursor, self.limit = get, cursor, limit
        self.store: dict[str, dict[int, dict]] = {}
        self.events: list[dict] = []

    def start_at_head(self) -> None:
        """Take the feed's latest cursor (before a listing, as a partner does)."""
        page = self.get("/api/v1/changes", {"limit": 1, "since": self.cursor} if self.cursor
                        else {"limit": 1})
        while page["events"]:
            page = self.get("/api/v1/changes", {"limit": self.limit, "since": page["cursor"]})
        self.cursor = page["cursor"]

    def load_listing(self, collection: str) -> None:
        """What the list endpoint gives now, page by page."""
        offset, kept = 0, self.store.setdefault(collection, {})
        while True:
            page = self.get(f"/api/v1/{collection}", {"limit": 1000, "offset": offset})
            for feature in page["features"]:
                kept[feature["id"]] = feature
            offset += len(page["features"])
            if not page["features"] or offset >= page["numberMatched"]:
                return

    def follow(self) -> int:
        """Read the feed to its end and apply it; returns the number of events."""
        applied = 0
        while True:
            params = {"limit": self.limit}
            if self.cursor:
                params["since"] = self.cursor
            page = self.get("/api/v1/changes", params)
            for event in page["events"]:
                self.apply(event)
                applied += 1
            self.cursor = page["cursor"]
            if len(page["events"]) < self.limit:
                return applied

    def apply(self, event: dict) -> None:
        self.events.append(event)
        prefix, _, change = event["type"].partition(".")
        if prefix not in PREFIX_LAYERS:
            return
        kept = self.store.setdefault(PREFIX_LAYERS[prefix], {})
        if change == "deleted":
            kept.pop(event["data"]["id"], None)
        else:
            kept[event["data"]["id"]] = event["data"]
