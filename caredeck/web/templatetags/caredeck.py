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
