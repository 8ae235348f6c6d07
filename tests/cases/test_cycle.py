"""The whole case cycle through the services, with time frozen in New York's office hours."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from caredeck.cases import services
from caredeck.cases.models import CaseStatus
from caredeck.notify.models import OutboundMessage

pytestmark = pytest.mark.django_db
TUESDAY_NOON_NY = datetime.datetime(2026, 11, 24, 17, 0, tzinfo=datetime.UTC)


def test_incomplete_case_waits_then_routes_solves_and_closes(
    open_case, experts, requirement, care_analyst, contact_a, escalation_contacts
):
    with time_machine.travel(TUESDAY_NOON_NY, tick=False):
        case = open_case(facts={})
        assert case.number.startswith("CS-")
        assert case.status == CaseStatus.INFO_REQUESTED
        assert case.owner is None and case.sla_paused_at is not None
        assert "Affected phone number" in case.events.filter(kind="info_requested").get().body
        case = services.case_provide_info(actor=contact_a, case=case, body="Here",
                                          facts={"phone_number": "+1 212 555 0101"})
        assert case.status == CaseStatus.OPEN
        assert case.owner == experts["new_york"].user
        assert case.sla_paused_at is None
        owner = case.owner
        case = services.case_propose_solution(actor=owner, case=case, body="Restart the SBC.")
        assert case.status == CaseStatus.SOLUTION_PROPOSED and case.first_response_at
        case = services.case_reject_solution(actor=contact_a, case=case, reason="Still down")
        assert case.status == CaseStatus.OPEN
        case = services.case_propose_solution(actor=owner, case=case, body="Patch 8.2.1.")
        case = services.case_confirm(actor=contact_a, case=case)
        assert case.status == CaseStatus.CONFIRMED and case.resolved_at
        case = services.case_close(actor=owner, case=case, root_cause="Expired certificate",
                                   new_kb_article={"title": "SBC 503 at login",
                                                   "body": "Renew the certificate."},
                                   hotfix={"version": "8.2.1", "description": "Auto-renew"})
        assert case.status == CaseStatus.CLOSED and case.kb_article and case.hotfix
    subjects = list(OutboundMessage.objects.filter(channel="email")
                    .values_list("subject", flat=True))
    assert subjects and all(case.number in s for s in subjects)
