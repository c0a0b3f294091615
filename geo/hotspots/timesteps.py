"""Time steps of a space-time cube: whole weeks or months aligned to the data.

A window ``[start, end]`` (closed, UTC) is cut into steps of one calendar month or
seven days laid from an anchor, as ArcGIS's Create Space Time Cube "Time Step
Alignment" does:

- ``end`` (the default): the last step ends where the window ends, the steps are laid
  backwards from it. A window ending on the 3rd has monthly steps from the 3rd to
  the 3rd.
- ``start``: the first step starts where the window starts, laid forwards.
- ``reference``: steps are laid from a given instant (e.g. the 1st of a month at
  00:00 for calendar months) in both directions.

Every step is whole: the part of the window that would make a shorter step (before
the first whole step, or after the last) is left out of the cube and reported
(:attr:`TimeSteps.dropped`), so a step that covers three days is never compared with
steps of a month and read as a decline. Steps are half-open ``[edge_k, edge_k+1)``;
the window's closed end ``end`` is taken as ending at ``end`` + 1 microsecond.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from geo.clock import add_months
from geo.errors import ParameterError

UNITS = ("month", "week")
ALIGNMENTS = ("end", "start", "reference")
_MICROSECOND = timedelta(microseconds=1)


def _shift(anchor: datetime, unit: str, k: int) -> datetime:
    """``anchor`` plus ``k`` steps (months by the calendar, weeks of 7 days)."""
    return add_months(anchor, k) if unit == "month" else anchor + timedelta(days=7 * k)


def _utc64(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")


@dataclass(frozen=True)
class TimeSteps:
    """Whole time steps: ``edges`` (datetime64[us], UTC, ``len(self) + 1`` of them),
    step k being ``[edges[k], edges[k + 1])``, and the parts of the window left out."""

    unit: str
    alignment: str
    edges: np.ndarray
    dropped: tuple[tuple[datetime, datetime], ...]
    reference: datetime | None = None

    def __len__(self) -> int:
        return max(len(self.edges) - 1, 0)

    def index(self, times) -> np.ndarray:
        """Step of each time (numpy datetime64, UTC), -1 outside every whole step."""
        times = np.asarray(times, dtype="datetime64[us]")
        step = np.searchsorted(self.edges, times, side="right") - 1
        return np.where((step >= 0) & (step < len(self)), step, -1).astype(np.int64)

    def describe(self) -> dict:
        """The steps as metadata: unit, alignment, edges and the parts left out."""
        return {
            "unit": self.unit,
            "alignment": self.alignment,
            "reference": self.reference.isoformat() if self.reference else None,
            "steps": len(self),
            "edges": [_iso(edge) for edge in self.edges],
            "dropped_partial_steps": [[a.isoformat(), b.isoformat()]
                                      for a, b in self.dropped],
            "rule": "whole steps only, half-open [edge_k, edge_k+1); the rest of the "
                    "window is left out (dropped_partial_steps), never counted as a "
                    "shorter step",
        }


def _iso(edge: np.datetime64) -> str:
    return edge.astype(datetime).replace(tzinfo=UTC).isoformat()


def time_steps(start: datetime, end: datetime, unit: str, alignment: str = "end",
               reference: datetime | None = None) -> TimeSteps:
    """Whole steps of ``unit`` inside the closed window ``[start, end]`` (UTC-aware).

    Parameters
    ----------
    start, end : datetime
        The window, time zone aware; ``end`` is its last instant.
    unit : {"month", "week"}
        Calendar months or 7-day weeks.
    alignment : {"end", "start", "reference"}
        Where the steps are laid from (module docstring).
    reference : datetime, optional
        The anchor of ``alignment="reference"`` (time zone aware).

    Returns
    -------
    TimeSteps
    """
    if unit not in UNITS:
        raise ParameterError("step", f"unknown step {unit!r}; steps: {', '.join(UNITS)}")
    if alignment not in ALIGNMENTS:
        raise ParameterError("alignment", f"unknown alignment {alignment!r}; alignments: "
                            f"{', '.join(ALIGNMENTS)}")
    if alignment == "reference" and reference is None:
        raise ParameterError("reference", "alignment=reference needs a reference time")
    start, stop = start.astimezone(UTC), end.astimezone(UTC) + _MICROSECOND
    if alignment == "end":
        anchor = stop
    elif alignment == "start":
        anchor = start
    else:
        anchor = reference.astimezone(UTC)
    # from the first whole step: the smallest k whose edge is at or after the start
    k = _first_step_at_or_after(anchor, start, unit)
    edges = []
    while _shift(anchor, unit, k) <= stop:
        edges.append(_shift(anchor, unit, k))
        k += 1
    dropped = []
    if len(edges) < 2:
        dropped.append((start, stop - _MICROSECOND))
        edges = []
    else:
        if edges[0] > start:
            dropped.append((start, edges[0] - _MICROSECOND))
        if edges[-1] < stop:
            dropped.append((edges[-1], stop - _MICROSECOND))
    return TimeSteps(unit, alignment, np.array([_utc64(e) for e in edges],
                                               dtype="datetime64[us]"),
                     tuple(dropped), anchor if alignment == "reference" else None)


def _first_step_at_or_after(anchor: datetime, start: datetime, unit: str) -> int:
    """The smallest k with ``_shift(anchor, unit, k) >= start``."""
    if unit == "month":
        k = (start.year - anchor.year) * 12 + start.month - anchor.month - 1
    else:
        k = (start - anchor).days // 7 - 1
    while _shift(anchor, unit, k) < start:
        k += 1
    while _shift(anchor, unit, k - 1) >= start:
        k -= 1
    return k


__all__ = ["ALIGNMENTS", "UNITS", "TimeSteps", "time_steps"]
