"""Template filters of the topology pages: availabilities as people read them."""

from django import template

from caredeck.topology import selectors

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.99995 -> "99.995 %"."""
    try:
        return selectors.percent(None if value in (None, "") else float(value))
    except (TypeError, ValueError):
        return "—"


@register.filter
def no_impact(text) -> bool:
    """A matrix text that says "none": no impact."""
    return str(text or "").strip().lower() == "none"
