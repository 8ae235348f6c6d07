"""Publishing a problem's root-cause analysis to the tenants its incidents affected.

A problem may explain several incidents and a tenant may have been hit by more than one
of them: each affected tenant receives one RCA message set (e-mail / in-app to its
designated contacts and subscribers, and its webhooks) that names only its own incidents
with its own impact text. Per incident and tenant a `Notice` (kind RCA, with the due time
that tenant's contract set) and a timeline entry only that tenant and staff can read are
recorded, so the promise report can say whether each RCA was on time.
"""

from __future__ import annotations

import re
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.models import Organization
from caredeck.accounts.roles import OrganizationKind
from caredeck.incidents.models import (
    AffectedTenant,
    EventKind,
    Notice,
    NoticeKind,
    TimelineEvent,
)
from caredeck.notify.audience import TenantMessage, notify_tenants
from caredeck.notify.services import outbox_batched
from caredeck.problems.clocks import tenant_rca_due_at
from caredeck.problems.models import Problem

EVENT = "incident.report"
TEMPLATE = "problem_rca"
# Shorter names ("AB") would match ordinary words; they cannot be checked reliably.
MIN_CHECKED_NAME = 3


def _incident_url(incident) -> str:
    return settings.BASE_URL + reverse("incident-detail", args=[incident.number])


def recipients_of(problem: Problem) -> list[AffectedTenant]:
    """The current affected-tenant rows of every incident linked to the problem."""
    return list(
        AffectedTenant.objects.filter(incident__problem=problem, removed_at__isnull=True)
        .select_related("organization", "organization__contract", "incident")
        .order_by("organization__name", "incident__detected_at")
    )


def tenant_names_in(text: str, rows: list[AffectedTenant]) -> list[str]:
    """Customer and partner names the text mentions that some recipient must not read.

    Every recipient reads the same document, so it may name no customer at all, except
    the one tenant when it is the only recipient."""
    recipients = {row.organization_id for row in rows}
    names = Organization.objects.filter(
        kind__in=(OrganizationKind.CUSTOMER, OrganizationKind.PARTNER)
    ).values_list("pk", "name")
    found = []
    for pk, name in names:
        if len(name.strip()) < MIN_CHECKED_NAME or recipients == {pk}:
            continue
        if re.search(rf"(?<!\w){re.escape(name.strip())}(?!\w)", text, re.IGNORECASE):
            found.append(name)
    return sorted(found)


def rca_check(problem: Problem, rows: list[AffectedTenant]) -> None:
    """Field errors that stop a publication: nothing to send, or text that names a
    customer other recipients would read."""
    errors: dict[str, list[str]] = {}
    if not problem.root_cause.strip():
        errors["root_cause"] = ["State the root cause before publishing the RCA."]
    if not problem.rca_document.strip():
        errors["rca_document"] = ["Write the root-cause analysis before publishing it."]
    for field in ("root_cause", "rca_document"):
        named = tenant_names_in(getattr(problem, field), rows)
        if named:
            errors.setdefault(field, []).append(
                "Every affected tenant receives this text: remove the customer name"
                f"{'s' if len(named) > 1 else ''} {', '.join(named)}."
            )
    if errors:
        raise ValidationError(errors)


def _context(problem: Problem, rows: list[AffectedTenant]) -> dict:
    return {
        "root_cause": problem.root_cause,
        "rca_document": problem.rca_document,
        "published_at": problem.rca_published_at,
        "incidents": [
            {
                "number": row.incident.number,
                "title": row.incident.title,
                "detected_at": row.incident.detected_at,
                "resolved_at": row.incident.resolved_at,
                "impact_text": row.impact_text,
                "areas": [a.get("name") or a.get("area") for a in row.areas
                          if isinstance(a, dict)],
                "url": _incident_url(row.incident),
            }
            for row in rows
        ],
    }


def _webhook_data(problem: Problem, rows: list[AffectedTenant]) -> dict:
    organization = rows[0].organization
    return {
        "notice": NoticeKind.RCA.value,
        "organization": organization.slug,
        "published_at": problem.rca_published_at.isoformat(),
        "root_cause": problem.root_cause,
        "rca": problem.rca_document,
        "incidents": [
            {
                "incident": row.incident.number,
                "title": row.incident.title,
                "impact": row.impact_text,
                "areas": [a.get("area") for a in row.areas if isinstance(a, dict)],
            }
            for row in rows
        ],
    }


def rca_send(*, problem: Problem, rows: list[AffectedTenant], actor) -> dict[int, int]:
    """Send the published RCA, one message set per tenant; record notices and timeline
    entries. Runs in the caller's transaction. Returns organization id -> messages."""
    by_tenant: dict[int, list[AffectedTenant]] = defaultdict(list)
    for row in rows:
        by_tenant[row.organization_id].append(row)
    now = problem.rca_published_at or timezone.now()
    # The link of each message is the tenant's page of its latest incident of the
    # problem (problem pages are internal): one outbox write per such incident.
    by_link: dict[int, list[list[AffectedTenant]]] = defaultdict(list)
    for tenant_rows in by_tenant.values():
        by_link[tenant_rows[-1].incident.pk].append(tenant_rows)
    counts: dict[int, int] = {}
    with outbox_batched():
        for groups in by_link.values():
            counts |= notify_tenants(
                event=EVENT,
                template=TEMPLATE,
                # Published once (a guarded update): one key per problem and tenant
                # keeps a retried request from sending twice.
                dedupe_base=f"{problem.number}:rca",
                url=_incident_url(groups[0][-1].incident),
                messages=[
                    TenantMessage(
                        organization=tenant_rows[0].organization,
                        context=_context(problem, tenant_rows),
                        webhook_data=_webhook_data(problem, tenant_rows),
                    )
                    for tenant_rows in groups
                ],
            )
    Notice.objects.bulk_create(
        [
            Notice(
                incident=row.incident, organization=row.organization, kind=NoticeKind.RCA,
                due_at=tenant_rca_due_at(row.incident, row.organization), sent_at=now,
                recipients=counts.get(row.organization_id, 0),
            )
            for row in rows
        ],
        batch_size=500,
    )
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                incident=row.incident, at=now, kind=EventKind.PROBLEM, public=True,
                organization=row.organization,
                text=f"Root-cause analysis sent to {row.organization.name} "
                f"({counts.get(row.organization_id, 0)} message(s)).",
                data={"notice": NoticeKind.RCA.value,
                      "recipients": counts.get(row.organization_id, 0)},
            )
            for row in rows
        ]
        + [
            # Staff read which problem the RCA came from; tenants never see problem numbers.
            TimelineEvent(
                incident=incident, at=now, kind=EventKind.PROBLEM, actor=actor,
                text=f"Root-cause analysis of {problem.number} published.",
                data={"problem": problem.number},
            )
            for incident in {row.incident.pk: row.incident for row in rows}.values()
        ],
        batch_size=500,
    )
    return counts
