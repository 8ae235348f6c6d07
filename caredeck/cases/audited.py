"""Registers Customer Care objects with the audit log. A case's history belongs to its
tenant (who may read it as they read the case); the care set-up, the knowledge base's
editing history and the hot-fix log are for provider staff."""

from django.urls import reverse

from caredeck.accounts.selectors import provider_organization
from caredeck.cases.models import (
    Case,
    EscalationContact,
    Expert,
    Hotfix,
    KnowledgeArticle,
    SupportGroup,
)
from caredeck.core.audit import AuditedKind, register_audited, staff_only


def _cases_visible(user):
    from caredeck.cases.selectors import cases_visible

    return cases_visible(user)


register_audited(
    AuditedKind(
        kind="case", model=Case, lookup="number", visible_to=_cases_visible,
        owner_of=lambda case: case.organization,
        url_of=lambda case: reverse("case-detail", args=[case.number]),
    )
)
register_audited(
    AuditedKind(
        kind="kb", model=KnowledgeArticle, lookup="number",
        visible_to=staff_only(KnowledgeArticle), owner_of=lambda a: provider_organization(),
        url_of=lambda a: reverse("kb-detail", args=[a.number]),
    )
)
register_audited(
    AuditedKind(
        kind="hotfix", model=Hotfix, lookup="number", visible_to=staff_only(Hotfix),
        owner_of=lambda h: provider_organization(),
        url_of=lambda h: reverse("hotfix-list") + f"?q={h.number}",
    )
)
register_audited(
    AuditedKind(
        kind="support_group", model=SupportGroup, lookup="slug",
        visible_to=staff_only(SupportGroup), owner_of=lambda g: provider_organization(),
        url_of=lambda g: reverse("care-setup"),
    )
)
register_audited(
    AuditedKind(
        kind="expert", model=Expert, lookup="pk", visible_to=staff_only(Expert),
        owner_of=lambda e: provider_organization(),
        url_of=lambda e: reverse("care-setup"),
    )
)
register_audited(
    AuditedKind(
        kind="escalation_contact", model=EscalationContact, lookup="deployment",
        visible_to=staff_only(EscalationContact), owner_of=lambda c: provider_organization(),
        url_of=lambda c: reverse("care-setup"),
    )
)
