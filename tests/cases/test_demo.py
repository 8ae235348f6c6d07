"""The demo's Customer Care: groups, analysts around the world, cases in every state,
loaded through the services and idempotently."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability
from caredeck.cases import reports
from caredeck.cases.models import (
    Case,
    CaseEscalation,
    CaseEvent,
    CaseRequirement,
    EscalationContact,
    Expert,
    Hotfix,
    KnowledgeArticle,
    Skill,
    SupportGroup,
)
from caredeck.cases.selectors import case_list, cases_visible
from caredeck.web.demo import load_demo

pytestmark = pytest.mark.django_db

MODELS = (SupportGroup, Expert, Skill, CaseRequirement, EscalationContact, KnowledgeArticle,
          Hotfix, Case, CaseEvent, CaseEscalation)


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def test_the_demo_cases_load_once_in_every_state():
    started = time.monotonic()
    load_demo()
    first_load = time.monotonic() - started
    counts = _counts()
    load_demo()
    assert _counts() == counts  # idempotent: nothing doubled
    assert first_load < 60

    assert set(SupportGroup.objects.values_list("name", flat=True)) == {
        "Reporting & Analytics", "Technical Account Management", "Voice Self Service",
        "Telephony", "Business Applications", "Customer Care"}
    assert SupportGroup.objects.get(is_default=True).name == "Customer Care"
    assert set(SupportGroup.objects.get(slug="telephony").products.values_list(
        "slug", flat=True)) == {"cloud-cx"}
    experts = Expert.objects.select_related("user")
    assert 6 <= experts.count() <= 9
    zones = {e.timezone.split("/")[0] for e in experts}
    assert {"America", "Europe", "Asia", "Australia"} <= zones
    analyst = User.objects.get(email="analyst.ny@provider.example")
    # The light demo hash of the other demo people (tests only accept MD5 hashes).
    assert analyst.password == User.objects.get(email="analyst@provider.example").password \
        or analyst.password.startswith("pbkdf2_sha256$10000$")
    assert has_capability(analyst, Capability.WORK_CASES)
    assert set(EscalationContact.objects.values_list("deployment", flat=True)) == {
        "cloud", "premise"}
    assert all(EscalationContact.objects.values_list("phone", flat=True))
    assert set(KnowledgeArticle.objects.values_list("visibility", flat=True)) == {
        "public", "internal"}
    assert Hotfix.objects.count() == 1 and Hotfix.objects.get().cases.count() == 1

    statuses = Counter(Case.objects.values_list("status", flat=True))
    assert statuses["info_requested"] == 2
    assert statuses["open"] >= 3
    assert statuses["solution_proposed"] == 2
    assert statuses["closed"] == 3
    assert 9 <= sum(statuses.values()) <= 12
    # Closed with knowledge, timelines and real durations (backdated step by step).
    for case in Case.objects.filter(status="closed"):
        assert case.kb_article_id and case.root_cause and case.close_reason == "resolved"
        assert case.created_at < case.first_response_at < case.resolved_at <= case.closed_at
        assert case.events.filter(kind="closed").get().at == case.closed_at
    # Clocks: the open cases' SLA clocks run; the waiting ones are paused.
    running = Case.objects.filter(status="open", first_response_at__isnull=True)
    assert running.exists() and all(c.response_due_at and c.sla_paused_at is None
                                    for c in running)
    assert all(c.sla_paused_at for c in Case.objects.filter(status="info_requested"))
    assert Case.objects.filter(status="solution_proposed", solutions_rejected=1).exists()
    assert Case.objects.filter(status="info_requested", info_requests=1).exists()
    # The escalated critical case waits for a care manager, with the number to call.
    escalation = CaseEscalation.objects.select_related("case").get()
    assert escalation.is_open and escalation.case.criticality == 1
    assert escalation.phone and escalation.manager.email == "care.manager@provider.example"
    # Routed through the services: groups, owners, routing reasons and audit.
    routed = Case.objects.filter(routed_at__isnull=False)
    assert routed.exists() and all(c.group_id and c.routing.get("reasons") for c in routed)


def test_the_demo_people_see_their_cases_and_the_manager_the_reports():
    load_demo()
    contact = User.objects.get(email="admin@acme.example")
    assert has_capability(contact, Capability.OPEN_CASES, contact.organization)
    mine = case_list(contact)
    assert mine.exists() and {c.organization.slug for c in mine} == {"acme"}
    assert not cases_visible(User.objects.get(email="member@globex.example")).exclude(
        organization__slug="globex").exists()
    report = reports.case_report(period=reports.default_period())
    assert report.total.opened == Case.objects.count()
    assert report.fcr_total.resolved == 3
    assert report.escalation_total.raised == 1 and report.escalation_total.open == 1
