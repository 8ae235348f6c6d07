"""Reads of Customer Care, scoped to the acting user.

Provider staff who serve every tenant see every case; a TAM the cases of their accounts;
a designated contact (or a customer admin, or a partner whose link allows it) every case
of the organization; anyone else the cases they requested or opened. The knowledge base:
public articles for everyone signed in, internal ones for provider staff who serve every
tenant (internal articles grew out of customers' cases). The hot-fix log, which names the
customers waiting for each fix, is for Care staff who serve every tenant.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.roles import Capability
from caredeck.cases.models import (
    ACTIVE,
    WAITING_ON_CUSTOMER,
    Case,
    CaseEscalation,
    CaseEvent,
    Expert,
    Hotfix,
    KnowledgeArticle,
)
from caredeck.core.numbering import looks_like_number
from caredeck.core.selectors import one_or_404
from caredeck.core.validation import is_id

LIST_RELATED = ("organization", "product", "owner", "group")


def cases_visible(user) -> QuerySet[Case]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Case.objects.none()
    tenants = tenants_for(user)
    if is_provider_staff(user):
        if has_capability(user, Capability.SERVE_ALL_TENANTS):
            return Case.objects.all()
        return Case.objects.filter(organization__in=tenants)
    whole = [org.pk for org in tenants if has_capability(user, Capability.VIEW_ORG_CASES, org)]
    return Case.objects.filter(
        Q(organization_id__in=whole)
        | (Q(organization__in=tenants) & (Q(requester=user) | Q(opened_by=user)))
    )


def case_get(user, number: str) -> Case:
    if not looks_like_number(number, "CS"):
        one_or_404(Case.objects.none(), "case")
    return one_or_404(
        cases_visible(user).select_related(*LIST_RELATED, "requester", "opened_by",
                                           "kb_article", "hotfix", "organization__contract"),
        "case", number=number,
    )


def sees_internal(user, case: Case) -> bool:
    """Internal notes, routing reasons and SLA warnings: Care staff on the tenant."""
    return has_capability(user, Capability.WORK_CASES, case.organization)


def case_timeline(user, case: Case) -> QuerySet[CaseEvent]:
    events = case.events.select_related("actor").prefetch_related("attachments")
    if not sees_internal(user, case):
        events = events.filter(public=True)
    return events


def case_attachments(user, case: Case):
    files = case.attachments.all()
    if not sees_internal(user, case):
        files = files.filter(public=True)
    return files


def open_escalation(case: Case) -> CaseEscalation | None:
    return case.escalations.filter(acknowledged_at__isnull=True).first()


# --- Lists and queues ------------------------------------------------------------------

QUEUES = {
    "mine": "My cases",
    "collaborating": "Cases I help on",
    "group": "My group's queue",
    "unassigned": "Unassigned",
    "waiting": "Waiting on the customer",
    "breaching": "Breaching soon",
    "escalated": "Escalated",
}


def breaching_soon(now: datetime.datetime | None = None) -> Q:
    """Running SLA clocks due within the horizon (or already past)."""
    now = now or timezone.now()
    horizon = now + datetime.timedelta(minutes=settings.CASES_BREACHING_SOON_MINUTES)
    return Q(status__in=ACTIVE, sla_paused_at__isnull=True) & (
        Q(first_response_at__isnull=True, response_due_at__lte=horizon)
        | Q(resolved_at__isnull=True, resolution_due_at__lte=horizon)
    )


def queue(user, name: str) -> QuerySet[Case]:
    """One of the QUEUES for a Care analyst (unknown names read as "mine")."""
    cases = cases_visible(user).select_related(*LIST_RELATED)
    active = cases.filter(status__in=ACTIVE)
    if name == "collaborating":
        return active.filter(collaborators=user)
    if name == "group":
        group_id = Expert.objects.filter(user=user).values_list("group_id", flat=True).first()
        return active.filter(group_id=group_id) if group_id else cases.none()
    if name == "unassigned":
        return active.filter(owner__isnull=True)
    if name == "waiting":
        return cases.filter(status__in=WAITING_ON_CUSTOMER)
    if name == "breaching":
        return cases.filter(breaching_soon()).order_by("resolution_due_at")
    if name == "escalated":
        # One join: a case with no escalation at all is not "escalated".
        return active.filter(escalations__isnull=False,
                             escalations__acknowledged_at__isnull=True).distinct()
    return active.filter(owner=user)


def queue_counts(user) -> dict[str, int]:
    return {name: queue(user, name).count() for name in QUEUES}


def case_list(user, *, status: str = "", q: str = "", organization=None) -> QuerySet[Case]:
    """A tenant's (or staff's) case list: `status` "open" (active) or "closed", and a
    search over number, summary and description."""
    cases = cases_visible(user).select_related(*LIST_RELATED)
    if organization is not None:
        cases = cases.filter(organization=organization)
    if status == "open":
        cases = cases.filter(status__in=ACTIVE)
    elif status == "closed":
        cases = cases.filter(status="closed")
    q = (q or "").strip()[:200]
    if q:
        cases = cases.filter(
            Q(number__iexact=q) | Q(summary__icontains=q) | Q(description__icontains=q)
        )
    return cases.order_by("-created_at", "-pk")


# --- Knowledge base and hot-fix log ----------------------------------------------------


def kb_visible(user) -> QuerySet[KnowledgeArticle]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return KnowledgeArticle.objects.none()
    articles = KnowledgeArticle.objects.select_related("product", "author")
    # Internal articles grew out of customers' cases: for staff who serve every tenant
    # (a TAM serves a few accounts and reads the public ones).
    if has_capability(user, Capability.SERVE_ALL_TENANTS):
        return articles
    return articles.filter(visibility=KnowledgeArticle.Visibility.PUBLIC)


def kb_search(user, q: str = "", product=None) -> QuerySet[KnowledgeArticle]:
    articles = kb_visible(user)
    if product is not None:
        articles = articles.filter(product=product)
    for word in (q or "").split()[:8]:
        articles = articles.filter(
            Q(number__iexact=word) | Q(title__icontains=word) | Q(body__icontains=word)
        )
    return articles.order_by("-updated_at", "-pk")


def kb_get(user, key: str) -> KnowledgeArticle:
    """By number (KB-000042) or by id (the API's `kb_article`)."""
    if is_id(key):
        return one_or_404(kb_visible(user), "article", pk=int(key))
    if not looks_like_number(key, "KB"):
        one_or_404(KnowledgeArticle.objects.none(), "article")
    return one_or_404(kb_visible(user), "article", number=key)


def hotfixes_visible(user) -> QuerySet[Hotfix]:
    # The log names the customers waiting for each fix: for Care staff who serve every
    # tenant, not a TAM of a few accounts.
    if has_capability(user, Capability.WORK_CASES) and has_capability(
            user, Capability.SERVE_ALL_TENANTS):
        return Hotfix.objects.select_related("product", "created_by")
    return Hotfix.objects.none()


def hotfix_search(user, q: str = "", status: str = "") -> QuerySet[Hotfix]:
    fixes = hotfixes_visible(user)
    if status in Hotfix.Status.values:
        fixes = fixes.filter(status=status)
    for word in (q or "").split()[:8]:
        fixes = fixes.filter(
            Q(number__iexact=word) | Q(version__icontains=word)
            | Q(description__icontains=word) | Q(product__name__icontains=word)
            | Q(cases__number__iexact=word) | Q(cases__organization__name__icontains=word)
        )
    return fixes.distinct().order_by("-created_at", "-pk")


def hotfix_get(user, key: str) -> Hotfix:
    if is_id(key):
        return one_or_404(hotfixes_visible(user), "hot fix", pk=int(key))
    if not looks_like_number(key, "HF"):
        one_or_404(Hotfix.objects.none(), "hot fix")
    return one_or_404(hotfixes_visible(user), "hot fix", number=key)


def waiting_customers(hotfix: Hotfix) -> list[dict]:
    """Which customers wait for the fix, through which cases."""
    rows: dict[int, dict] = {}
    for case in hotfix.cases.select_related("organization").order_by("organization__name"):
        row = rows.setdefault(case.organization_id,
                              {"organization": case.organization, "cases": []})
        row["cases"].append(case)
    return list(rows.values())
