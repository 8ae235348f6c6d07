"""Registers incidents with the audit log. An incident spans tenants and its audit entries
name them all (scope changes), so its history is for provider staff; a tenant reads its
own part of the story on the incident's timeline."""

from django.urls import reverse

from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited, staff_only
from caredeck.incidents.models import Incident

register_audited(
    AuditedKind(
        kind="incident", model=Incident, lookup="number", visible_to=staff_only(Incident),
        owner_of=lambda i: provider_organization(),
        url_of=lambda i: reverse("incident-detail", args=[i.number]),
    )
)
