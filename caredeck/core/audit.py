"""Writing and reading the audit log.

Services call `audit_record` inside their transaction for every state change. Each kind
of audited object registers how to find it for a given user (`register_audited`), so the
history of an object is readable exactly by those who may see the object.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models

from caredeck.core.models import AuditEntry


@dataclass(frozen=True)
class AuditedKind:
    kind: str
    model: type[models.Model]
    lookup: str
    # (user) -> queryset of the objects of this kind the user may see
    visible_to: Callable[[Any], models.QuerySet]
    # (obj) -> the organization that owns the object
    owner_of: Callable[[Any], Any]
    # (obj) -> URL of the object's page
    url_of: Callable[[Any], str]


AUDITED: dict[str, AuditedKind] = {}


def register_audited(kind: AuditedKind) -> None:
    AUDITED[kind.kind] = kind


def kind_of(obj: models.Model) -> AuditedKind:
    for audited in AUDITED.values():
        if isinstance(obj, audited.model):
            return audited
    raise LookupError(f"{type(obj).__name__} is not registered as an audited kind")


def _plain(value: Any) -> Any:
    """A JSON-safe form of a field value for the before/after columns."""
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in fields}


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields whose value changed."""
    keys = list(dict.fromkeys([*before, *after]))
    return {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in keys
        if _plain(before.get(key)) != _plain(after.get(key))
    }


def audit_record(
    *, actor, obj: models.Model, action: str, changes: dict[str, list[Any]] | None = None
) -> AuditEntry:
    audited = kind_of(obj)
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "email", None) or "system",
        organization=audited.owner_of(obj),
        object_kind=audited.kind,
        object_id=str(getattr(obj, audited.lookup)),
        object_label=str(obj)[:200],
        action=action,
        changes=changes or {},
    )


def audited_object_for(user, kind: str, object_id: str) -> models.Model | None:
    """The object named `kind:object_id` if `user` may see it, else None."""
    audited = AUDITED.get(kind)
    if audited is None or "\x00" in object_id:  # PostgreSQL refuses NUL bytes in text
        return None
    # "pk" is not a field name that get_field() knows; it stands for the primary key.
    meta = audited.model._meta
    field = meta.pk if audited.lookup == "pk" else meta.get_field(audited.lookup)
    try:
        value = field.to_python(object_id)
    except Exception:  # noqa: BLE001 - any unparsable id is simply "no such object"
        return None
    return audited.visible_to(user).filter(**{audited.lookup: value}).first()


def audit_entries_for(obj: models.Model) -> models.QuerySet[AuditEntry]:
    audited = kind_of(obj)
    return AuditEntry.objects.filter(
        object_kind=audited.kind, object_id=str(getattr(obj, audited.lookup))
    ).select_related("actor")


def staff_only(model: type[models.Model]) -> Callable[[Any], models.QuerySet]:
    """`visible_to` for provider-wide objects that span tenants (incidents, maintenance,
    problems): their audit entries name every tenant concerned, so only provider staff
    who serve every tenant read their history."""
    from caredeck.accounts.access import has_capability
    from caredeck.accounts.roles import Capability

    def visible_to(user) -> models.QuerySet:
        if has_capability(user, Capability.SERVE_ALL_TENANTS):
            return model.objects.all()
        return model.objects.none()

    return visible_to
