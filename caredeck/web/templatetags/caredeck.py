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
