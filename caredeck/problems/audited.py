"""Registers problems with the audit log: provider-wide objects, history for provider staff."""

from django.urls import reverse

from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited, staff_only
from caredeck.problems.models import Problem

register_audited(
    AuditedKind(
        kind="problem", model=Problem, lookup="number", visible_to=staff_only(Problem),
        owner_of=lambda obj: provider_organization(),
        url_of=lambda obj: reverse("problem-detail", args=[obj.number]),
    )
)
