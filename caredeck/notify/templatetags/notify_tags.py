"""Template filters of the notification pages."""

import datetime

from django import template

from caredeck.notify.events import EVENT_TYPES

register = template.Library()


@register.filter
def event_label(slug: str) -> str:
    """`incident.notice` -> `Outage notices`; an unknown slug is shown as it is."""
    kind = EVENT_TYPES.get(slug)
    return kind.label if kind else slug


@register.filter
def duration(value: datetime.timedelta | None) -> str:
    """A short age: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
