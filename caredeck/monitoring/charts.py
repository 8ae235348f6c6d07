"""Server-rendered SVG of the monitoring pages: the response-time sparkline of a check and
its 90-day availability bars.

Colour is never the only carrier: each chart has a `<title>` with its numbers (a tooltip
and what screen readers say), failed runs are drawn as crosses, not only in red, and the
pages list the same numbers in a table beside. The bars reuse the status page's bar
classes (`history-bars`, `bar s-…`), so they read the same as a tenant's status history.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SPARK_WIDTH = 120
SPARK_HEIGHT = 28
SPARK_PAD = 3
BAR_WIDTH = 8
BAR_GAP = 2
BAR_HEIGHT = 34


@dataclass(frozen=True)
class Point:
    ms: int
    ok: bool
    label: str = ""  # when: "2026-01-05 10:05" or the hour of a roll-up


def spark_text(points: list[Point], what: str = "runs") -> str:
    """"Response time, last 30 runs: min 12 ms, median 15 ms, max 40 ms; 2 failed"."""
    if not points:
        return "No runs yet."
    values = [p.ms for p in points]
    failed = sum(1 for p in points if not p.ok)
    text = (f"Response time, last {len(points)} {what}: min {min(values)} ms, median "
            f"{round(statistics.median(values))} ms, max {max(values)} ms")
    if failed:
        text += f"; {failed} failed"
    return text


def sparkline_svg(points: list[Point], *, what: str = "runs") -> SafeString:
    """Oldest run on the left; a failed run is a cross at its time."""
    summary = spark_text(points, what)
    if not points:
        return mark_safe(f'<span class="spark-empty">{escape(summary)}</span>')  # noqa: S308
    top = max(max(p.ms for p in points), 1)
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(len(points) - 1, 1)
    usable = SPARK_HEIGHT - 2 * SPARK_PAD

    def xy(index: int, point: Point) -> tuple[float, float]:
        x = SPARK_PAD + index * step if len(points) > 1 else SPARK_WIDTH / 2
        y = SPARK_PAD + usable * (1 - point.ms / top)
        return round(x, 1), round(y, 1)

    coords = [xy(i, p) for i, p in enumerate(points)]
    parts = [
        f'<svg class="sparkline" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" width="{SPARK_WIDTH}"'
        f' height="{SPARK_HEIGHT}" role="img"><title>{escape(summary)}</title>',
        '<polyline class="spark-line" fill="none" points="'
        + " ".join(f"{x},{y}" for x, y in coords) + '"/>',
    ]
    last_x, last_y = coords[-1]
    if points[-1].ok:  # the latest run as a dot (a single run is a dot alone)
        parts.append(f'<circle class="spark-dot" cx="{last_x}" cy="{last_y}" r="2"/>')
    for (x, y), point in zip(coords, points, strict=True):
        if not point.ok:
            parts.append(
                f'<path class="spark-fail" d="M{x - 2.5},{y - 2.5}l5,5m0,-5l-5,5">'
                f"<title>{escape(point.label)} failed, {point.ms} ms</title></path>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


# --- 90-day bars ------------------------------------------------------------------------

# (lowest availability %, class, label) from best to worst; the classes are the status
# page's, so the colours and the legend read the same.
BANDS = [
    (100.0, "s-operational", "100 %"),
    (99.0, "s-degraded", "99 – 100 %"),
    (95.0, "s-partial_outage", "95 – 99 %"),
    (0.0, "s-major_outage", "under 95 %"),
]
NO_DATA = ("s-nodata", "no data (before the check existed)")


def band(availability: float | None) -> tuple[str, str]:
    if availability is None:
        return NO_DATA
    for low, css, label in BANDS:
        if availability >= low:
            return css, label
    return BANDS[-1][1], BANDS[-1][2]


def percent(availability: float | None, places: int = 3) -> str:
    """Rounded down, so a miss never reads as a pass (99.9996 is "99.999 %")."""
    if availability is None:
        return "—"
    scale = 10**places
    floored = int(availability * scale) / scale
    return f"{floored:.{places}f} %"


def day_text(bar: dict) -> str:
    if bar["availability"] is None:
        return f"{bar['day']:%a %Y-%m-%d}: no data"
    return f"{bar['day']:%a %Y-%m-%d}: {percent(bar['availability'])} available"


def bars_summary(bars: list[dict]) -> str:
    counted = [b for b in bars if b["availability"] is not None]
    below = sum(1 for b in counted if b["availability"] < 100)
    return (f"Availability per day, last {len(bars)} days: {len(counted)} day(s) measured, "
            f"{below} below 100 %.")


def bars_svg(bars: list[dict], element_id: str) -> SafeString:
    count = len(bars)
    width = max(count * (BAR_WIDTH + BAR_GAP) - BAR_GAP, 1)
    title_id = f"{element_id}-title"
    parts = [
        f'<svg class="history-bars" id="{escape(element_id)}" viewBox="0 0 {width} {BAR_HEIGHT}"'
        f' preserveAspectRatio="none" width="100%" height="{BAR_HEIGHT}" role="img"'
        f' aria-labelledby="{escape(title_id)}">',
        f'<title id="{escape(title_id)}">{escape(bars_summary(bars))}</title>',
    ]
    for index, bar in enumerate(bars):
        css, _ = band(bar["availability"])
        x = index * (BAR_WIDTH + BAR_GAP)
        parts.append(
            f'<rect class="bar {css}" x="{x}" width="{BAR_WIDTH}" height="{BAR_HEIGHT}"'
            f' rx="1.5"><title>{escape(day_text(bar))}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
