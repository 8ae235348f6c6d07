"""Registers maintenances with the audit log: provider-wide objects, history for provider staff."""

from django.urls import reverse

from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited, staff_only
from caredeck.maintenance.models import Maintenance

register_audited(
    AuditedKind(
        kind="maintenance", model=Maintenance, lookup="number", visible_to=staff_only(Maintenance),
        owner_of=lambda obj: provider_organization(),
        url_of=lambda obj: reverse("maintenance-detail", args=[obj.number]),
    )
)
