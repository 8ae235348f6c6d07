"""The 90-day history bars as server-rendered SVG: one bar per day, coloured by the worst
state of the area that day.

Colour is never the only carrier: each bar has a `<title>` (date, state, impacted and
maintenance minutes) that shows as a tooltip, the whole chart has a text summary for
screen readers, and the page lists the same days in a table beside the bars.
"""

from __future__ import annotations

from collections import Counter

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from caredeck.status.selectors import AreaHistory, DayBar
from caredeck.status.states import RANK, AreaState

BAR_WIDTH = 8
BAR_GAP = 2
BAR_HEIGHT = 34


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def day_text(day: DayBar) -> str:
    """"2026-01-05: Partial outage, 42 min impacted, 30 min maintenance"."""
    text = f"{day.day:%a %Y-%m-%d}: {day.state.label}"
    if day.impacted_minutes:
        text += f", {day.impacted_minutes} min impacted"
    if day.maintenance_minutes:
        text += f", {day.maintenance_minutes} min maintenance"
    return text


def summary_text(history: AreaHistory) -> str:
    """What the bars say, in words: "Call routing, last 90 days: 88 operational, ..."."""
    counts = Counter(d.state for d in history.days)
    parts = [
        f"{counts[state]} {state.label.lower()}"
        for state in sorted(counts, key=lambda s: RANK[s])
    ]
    days = _plural(len(history.days), "day")
    return f"{history.name}, last {days}: " + ", ".join(parts) + (
        f"; uptime {history.uptime_text}" if history.uptime is not None else ""
    )


def _runs(days: list[DayBar]) -> list[tuple[int, list[DayBar]]]:
    """Consecutive days that read the same (state and minutes), with the index of the
    first: they share one tooltip, which keeps a page of many areas small."""
    runs: list[tuple[int, list[DayBar]]] = []
    for index, day in enumerate(days):
        same = (day.state, day.impacted_minutes, day.maintenance_minutes)
        if runs:
            last = runs[-1][1][-1]
            if (last.state, last.impacted_minutes, last.maintenance_minutes) == same:
                runs[-1][1].append(day)
                continue
        runs.append((index, [day]))
    return runs


def run_text(days: list[DayBar]) -> str:
    if len(days) == 1:
        return day_text(days[0])
    first, last = days[0], days[-1]
    return f"{first.day:%a %Y-%m-%d} – " + day_text(last)


def history_svg(history: AreaHistory, element_id: str) -> SafeString:
    count = len(history.days)
    width = max(count * (BAR_WIDTH + BAR_GAP) - BAR_GAP, 1)
    title_id = f"{element_id}-title"
    bar_id = f"{element_id}-bar"
    parts = [
        f'<svg class="history-bars" id="{escape(element_id)}" viewBox="0 0 {width} {BAR_HEIGHT}"'
        f' preserveAspectRatio="none" width="100%" height="{BAR_HEIGHT}" role="img"'
        f' aria-labelledby="{escape(title_id)}">',
        f'<title id="{escape(title_id)}">{escape(summary_text(history))}</title>',
        # One bar shape, placed once per day; its colour comes from the group's class.
        f'<defs><rect id="{escape(bar_id)}" width="{BAR_WIDTH}" height="{BAR_HEIGHT}"'
        ' rx="1.5"/></defs>',
    ]
    for first, days in _runs(history.days):
        state = AreaState(days[0].state)
        parts.append(f'<g class="bar s-{state.value}"><title>{escape(run_text(days))}</title>')
        parts.extend(
            f'<use href="#{escape(bar_id)}" x="{(first + offset) * (BAR_WIDTH + BAR_GAP)}"/>'
            for offset in range(len(days))
        )
        parts.append("</g>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
