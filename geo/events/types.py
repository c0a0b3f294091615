"""The event types, what each is about, and the ``types`` filter of a feed or a
subscription."""

from __future__ import annotations

from geo.errors import ParameterError

# Data layer (``geo.layers`` name) -> the prefix of its events.
LAYER_PREFIXES = {"incidents": "incident", "border_segments": "segment",
                  "crossing_points": "crossing", "regions": "region"}
CHANGES = ("created", "updated", "deleted")
FEATURE_TYPES = tuple(f"{prefix}.{change}" for prefix in LAYER_PREFIXES.values()
                      for change in CHANGES)
# The application's own events (geo.events.outbox.emit) -> what their data is.
APPLICATION_TYPES = {
    "alert.raised": "A section's alert test fired for the current period (once per "
                    "section and period).",
    "level.decided": "A supervisor set (or lifted) a section's risk level.",
    "assessment.stored": "A risk assessment was stored.",
    "bulletin.published": "A scheduled bulletin was produced and archived.",
}
TYPES = FEATURE_TYPES + tuple(APPLICATION_TYPES)
PREFIX_LAYERS = {prefix: layer for layer, prefix in LAYER_PREFIXES.items()}


def layer_of(event_type: str) -> str | None:
    """The data layer an event type is about (None for an application event)."""
    return PREFIX_LAYERS.get(event_type.partition(".")[0]) if event_type in FEATURE_TYPES \
        else None


def parse_types(value, field: str = "types") -> tuple[str, ...]:
    """The event types a comma-separated text (or a list) names; ``incident.*`` names
    every type of a prefix. Empty: every type (an empty tuple).

    Raises
    ------
    ParameterError
        An unknown type (the message lists the known ones).
    """
    names = value.split(",") if isinstance(value, str) else list(value or ())
    chosen: list[str] = []
    for name in (n.strip() if isinstance(n, str) else n for n in names):
        if name in ("", None):
            continue
        if not isinstance(name, str):
            raise ParameterError(field, f"{name!r} is not an event type")
        matches = ([t for t in TYPES if t.startswith(name[:-1])] if name.endswith(".*")
                   else [name] if name in TYPES else [])
        if not matches:
            raise ParameterError(field, f"unknown event type {name!r}; types are "
                                        f"{', '.join(TYPES)} (or a prefix such as incident.*)")
        chosen += [t for t in matches if t not in chosen]
    return tuple(chosen)
