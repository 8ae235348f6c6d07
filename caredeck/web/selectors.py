"""What needs the signed-in person now: the home worklist.

Each app contributes rows through WORKLIST_SOURCES; a row says what, for whom, and how
urgent. Later apps (cases, incidents, ideas) add their clocks here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.urls import reverse

from caredeck.accounts import selectors as account_selectors
from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability


@dataclass
class WorkItem:
    title: str
    detail: str
    url: str
    due_at: object = None


def _access_requests(user, tenant) -> list[WorkItem]:
    return [
        WorkItem(
            title=f"Access request from {r.name} ({r.company})",
            detail=f"{r.get_kind_display()} · {r.email}",
            url=reverse("access-request-detail", args=[r.pk]),
            due_at=None,
        )
        for r in account_selectors.access_requests_pending(user)[:20]
    ]


def _pending_invitations(user, tenant) -> list[WorkItem]:
    if not has_capability(user, Capability.MANAGE_USERS, tenant):
        return []
    # Invited people have no usable password until they follow their link.
    people = account_selectors.users_visible(user).filter(
        organization=tenant, invited_at__isnull=False,
        password__startswith=UNUSABLE_PASSWORD_PREFIX,
    )
    return [
        WorkItem(
            title=f"{p.name} has not accepted the invitation yet",
            detail=f"Invited {p.invited_at:%Y-%m-%d} · {p.email}",
            url=reverse("user-detail", args=[p.pk]),
        )
        for p in people[:20]
    ]


def _no_designated_contact(user, tenant) -> list[WorkItem]:
    if tenant.kind != "customer" or not has_capability(
        user, Capability.MANAGE_DESIGNATED_CONTACTS, tenant
    ):
        return []
    has_contact = account_selectors.users_visible(user).filter(
        organization=tenant, role_grants__role="designated_contact", is_active=True
    ).exists()
    if has_contact:
        return []
    return [
        WorkItem(
            title=f"{tenant.name} has no designated contact",
            detail="Only designated contacts may open support cases. Name at least one.",
            url=reverse("team"),
        )
    ]


def _incident_clocks(user, tenant) -> list[WorkItem]:
    """Open incidents the user manages (or may run) with a customer notice coming due."""
    from caredeck.incidents.selectors import incident_work_for

    return [
        WorkItem(
            title=f"{incident.number} {incident.title}: {what} due",
            detail=f"{incident.get_severity_display()} · {count} tenant(s)",
            url=reverse("incident-detail", args=[incident.number]),
            due_at=due_at,
        )
        for incident, what, due_at, count in incident_work_for(user)
    ]


def _maintenance_owned(user, tenant) -> list[WorkItem]:
    """Maintenance windows the user owns that start within 24 h, run now, or run over."""
    from caredeck.maintenance.selectors import owner_worklist

    return [WorkItem(i.title, i.detail, i.url, i.due_at) for i in owner_worklist(user)]


WORKLIST_SOURCES = [
    _incident_clocks, _access_requests, _pending_invitations, _no_designated_contact,
]
WORKLIST_SOURCES.append(_maintenance_owned)


def _problem_work(user, tenant) -> list[WorkItem]:
    """My open action items and the RCAs of problems I own that are not published."""
    from caredeck.problems.selectors import work_for

    return [WorkItem(**row) for row in work_for(user)]


WORKLIST_SOURCES.append(_problem_work)


def _idea_clocks(user, tenant) -> list[WorkItem]:
    """Product managers: ideas waiting on their public answer, in-development updates due."""
    from caredeck.ideas.clocks import pm_work_for

    return [WorkItem(**row) for row in pm_work_for(user)]


WORKLIST_SOURCES.append(_idea_clocks)


def worklist_for(user, tenant) -> list[WorkItem]:
    items: list[WorkItem] = []
    for source in WORKLIST_SOURCES:
        items.extend(source(user, tenant))
    return items


def _case_clocks(user, tenant) -> list[WorkItem]:
    """Customer Care: my cases' next SLA due time (most urgent first) and, for care
    managers, escalations waiting for an acknowledgement. A customer who opens cases:
    the tenant's cases waiting on them, due when they would close themselves."""
    from django.db.models import Case as Pick
    from django.db.models import F, Q, When

    from caredeck.accounts.access import is_provider_staff
    from caredeck.cases.models import ACTIVE, WAITING_ON_CUSTOMER, CaseEscalation
    from caredeck.cases.selectors import cases_visible

    items: list[WorkItem] = []
    if is_provider_staff(user):
        if not has_capability(user, Capability.WORK_CASES):
            return items
        mine = (
            cases_visible(user)
            .filter(owner=user, status__in=ACTIVE, sla_paused_at__isnull=True)
            .filter(Q(first_response_at__isnull=True, response_due_at__isnull=False)
                    | Q(resolved_at__isnull=True, resolution_due_at__isnull=False))
            .annotate(next_due=Pick(
                When(first_response_at__isnull=True, then=F("response_due_at")),
                default=F("resolution_due_at")))
            .select_related("organization")
            .order_by("next_due", "pk")[:20]
        )
        for case in mine:
            what = "first response" if case.first_response_at is None else "resolution"
            items.append(WorkItem(
                title=f"{case.number} {case.summary}: SLA {what} due",
                detail=f"{case.organization.name} · {case.get_criticality_display()} · "
                       f"{case.get_status_display()}",
                url=reverse("case-detail", args=[case.number]),
                due_at=case.next_due,
            ))
        if has_capability(user, Capability.MANAGE_CARE):
            waiting = (CaseEscalation.objects.filter(acknowledged_at__isnull=True)
                       .filter(case__in=cases_visible(user))
                       .select_related("case__organization").order_by("ack_due_at", "pk")[:20])
            for escalation in waiting:
                case = escalation.case
                items.append(WorkItem(
                    title=f"{case.number} escalated: acknowledge with next steps",
                    detail=f"{case.organization.name} · {case.get_criticality_display()} · "
                           f"{escalation.business_impact[:80]}",
                    url=reverse("case-detail", args=[case.number]) + "#act-acknowledge-escalation",
                    due_at=escalation.ack_due_at,
                ))
        return items
    if not has_capability(user, Capability.OPEN_CASES, tenant):
        return items
    waiting = (cases_visible(user).filter(organization=tenant, status__in=WAITING_ON_CUSTOMER)
               .order_by(F("auto_close_at").asc(nulls_last=True), "pk")[:20])
    for case in waiting:
        what = ("we need information from you" if case.status == "info_requested"
                else "confirm or reject the proposed solution")
        items.append(WorkItem(
            title=f"{case.number} {case.summary}: {what}",
            detail="Without an answer the case closes itself by the time shown.",
            url=reverse("case-detail", args=[case.number]),
            due_at=case.auto_close_at,
        ))
    return items


WORKLIST_SOURCES.append(_case_clocks)
