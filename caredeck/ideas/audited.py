"""Registers ideas with the audit log. Ideas are shared across tenants and their audit
entries name voters and commenters of every tenant, so the history is for provider staff;
everyone else reads the idea's public updates."""

from django.urls import reverse

from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited, staff_only
from caredeck.ideas.models import Idea

register_audited(
    AuditedKind(
        kind="idea", model=Idea, lookup="number", visible_to=staff_only(Idea),
        owner_of=lambda idea: provider_organization(),
        url_of=lambda idea: reverse("idea-detail", args=[idea.number]),
    )
)
