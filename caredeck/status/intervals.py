"""Arithmetic on time intervals, for the history bars and the SLA report.

Intervals are half-open `(start, end)` pairs of aware datetimes. Everything here is pure:
the callers read the rows once with aggregate queries, turn them into intervals, and count
minutes in Python, so a report over hundreds of tenants costs a handful of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

Interval = tuple[datetime, datetime]


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """The union, as sorted, non-overlapping intervals (empty ones dropped), so time
    covered by two incidents at once is counted once."""
    result: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def clipped(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of `intervals` inside [start, end), merged."""
    return merged((max(s, start), min(e, end)) for s, e in intervals)


def without(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """`intervals` with every instant of `holes` taken out (e.g. maintenance windows)."""
    holes = merged(holes)
    result: list[Interval] = []
    for start, end in merged(intervals):
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def total_seconds(intervals: Iterable[Interval]) -> float:
    """Seconds covered by the union of `intervals`."""
    return sum((end - start).total_seconds() for start, end in merged(intervals))


def overlaps(interval: Interval, start: datetime, end: datetime) -> bool:
    """True if the interval shares a moment of positive length with [start, end)."""
    return min(interval[1], end) > max(interval[0], start)
