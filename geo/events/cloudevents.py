"""The CloudEvents 1.0 envelope (structured JSON mode) of an event."""

from __future__ import annotations

from datetime import UTC

SPECVERSION = "1.0"
FEATURE_CONTENT_TYPE = "application/geo+json"
JSON_CONTENT_TYPE = "application/json"
# A batch of events in one HTTP request (CloudEvents HTTP binding, batched mode).
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
EVENT_CONTENT_TYPE = "application/cloudevents+json"


def envelope(event: dict, source: str) -> dict:
    """The CloudEvent of a feed event (``geo.events.feed``): ``id`` the event's id as
    text (with ``source``, unique: a redelivery carries the same), ``time`` RFC 3339,
    ``subject`` the record (``incidents/123``), ``data`` a GeoJSON Feature (its content
    type ``application/geo+json``) or, for a tombstone or an application event, a JSON
    object."""
    feature = event["feature"] and event["type"].split(".")[-1] != "deleted"
    return {
        "specversion": SPECVERSION,
        "id": str(event["id"]),
        "source": source,
        "type": event["type"],
        "time": event["time"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "subject": event["subject"],
        "datacontenttype": FEATURE_CONTENT_TYPE if feature else JSON_CONTENT_TYPE,
        "data": event["data"],
    }
