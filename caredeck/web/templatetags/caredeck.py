from django import template

register = template.Library()


@register.filter
def spaced(value: str) -> str:
    """`invitation_accepted` -> `invitation accepted`."""
    return str(value).replace("_", " ")


@register.filter
def role_labels(roles) -> str:
    from caredeck.accounts.roles import Role

    return ", ".join(Role(r).label for r in roles if r in Role.values) or "no role"


@register.filter
def audit_value(value) -> str:
    """A before/after value of an audit entry as people read it, not as Python prints it:
    `['a_b', 'c']` -> `a_b, c`; `{'notice_minutes': 10}` -> `notice minutes: 10`."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(audit_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{spaced(k)}: " + (", ".join(f"{k2}: {audit_value(v2)}" for k2, v2 in v.items())
                                if isinstance(v, dict) else audit_value(v))
            for k, v in value.items()
        )
    return str(value)


# How long before a due time its clock turns amber.
CLOCK_AMBER_SECONDS = 10 * 60


@register.inclusion_tag("_clock.html", takes_context=True)
def clock(context, due_at, label: str = "", done_at=None):
    """A due time as UI.md wants it: the absolute time in the viewer's time zone and the
    relative time, amber shortly before and red once passed (with words, not colour
    only). `done_at` set: the promise was met at that time (or late, and by how much)."""
    from django.utils import timezone as tz

    now = tz.now()
    state, late_by = "ok", None
    if due_at is None:
        state = "none"
    elif done_at is not None:
        state = "kept" if done_at <= due_at else "missed"
        late_by = done_at - due_at if done_at > due_at else None
    elif due_at < now:
        state = "overdue"
    elif (due_at - now).total_seconds() <= CLOCK_AMBER_SECONDS:
        state = "soon"
    return {"due_at": due_at, "done_at": done_at, "state": state, "label": label,
            "late_by": late_by, "now": now}


@register.filter
def timeuntil_delta(delta) -> str:
    """A timedelta as people say it: `4 min`, `1 h 5 min`, `2 d 3 h`."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes = max(1, round(seconds / 60)) if not (days or hours) else seconds // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


@register.filter
def markdown(value: str):
    """Markdown a person wrote, rendered and sanitized (core/markdown.py)."""
    from caredeck.core.markdown import render_markdown

    return render_markdown(value)
