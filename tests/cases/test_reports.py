"""Customer Care reports: who reads them, the figures, the filters and the CSV."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import time_machine
from django.urls import reverse

from caredeck.cases import reports, services
from caredeck.cases.models import Case, CaseEscalation, SupportGroup

pytestmark = pytest.mark.django_db
TUESDAY_NOON_NY = datetime.datetime(2026, 11, 24, 17, 0, tzinfo=datetime.UTC)
URL = "/cases/reports/"
PERIOD = {"since": "2026-11-01", "until": "2026-11-30"}


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def cycle(open_case, experts, contact_a, escalation_contacts, care_manager):
    """On one Tuesday in New York: a case solved at first contact, one whose first
    solution was rejected, one still open and escalated (acknowledged late), one open."""
    with time_machine.travel(TUESDAY_NOON_NY, tick=False) as traveller:
        first = open_case(summary="Solved at once")
        owner = first.owner
        services.case_propose_solution(actor=owner, case=first, body="Restart the SBC.")
        services.case_confirm(actor=contact_a, case=first)
        services.case_close(actor=owner, case=first, root_cause="Stuck SBC",
                            new_kb_article={"title": "SBC restart", "body": "Restart it."})
        second = open_case(summary="Needed two tries", criticality=2)
        owner2 = second.owner
        traveller.shift(datetime.timedelta(minutes=30))
        services.case_propose_solution(actor=owner2, case=second, body="Try A.")
        services.case_reject_solution(actor=contact_a, case=second, reason="No.")
        services.case_propose_solution(actor=owner2, case=second, body="Try B.")
        services.case_confirm(actor=contact_a, case=second)
        services.case_close(actor=owner2, case=second, root_cause="B", kb_article=str(
            first.refresh_from_db() or first.kb_article.number))
        third = open_case(summary="Escalated", criticality=1)
        services.case_escalate(actor=contact_a, case=third, business_impact="All agents down")
        traveller.shift(datetime.timedelta(minutes=90))
        services.case_acknowledge_escalation(actor=care_manager, case=third,
                                             next_steps="Bridge call", communication_plan="Hourly")
        open_case(summary="=HYPERLINK(\"http://evil\")", criticality=4)
    return {"first": first, "second": second, "third": third}


def test_only_care_managers_read_the_reports(page_as, client, care_manager, care_analyst,
                                             contact_a, platform_admin):
    assert client.get(URL).status_code == 302  # sign in first
    for outsider in (care_analyst, contact_a):
        assert page_as(outsider).get(URL).status_code == 403
        assert page_as(outsider).get(URL + "?format=csv&table=volume").status_code == 403
    for manager in (care_manager, platform_admin):
        response = page_as(manager).get(URL)
        assert response.status_code == 200
        assert b"No case was opened in this period" in response.content
    assert reverse("case-reports") == URL


def test_the_figures(cycle, care_manager, page_as):
    with time_machine.travel(TUESDAY_NOON_NY + datetime.timedelta(hours=3), tick=False):
        report = reports.case_report(period=reports.parse_period(**PERIOD))
        page = page_as(care_manager).get(URL, PERIOD)
    assert page.status_code == 200
    total = report.total
    assert (total.opened, total.active, total.resolved, total.closed_other) == (4, 2, 2, 0)
    assert [v.opened for v in report.volume[:4]] == [1, 1, 1, 1]
    # One of the two resolved cases needed a second solution.
    assert (report.fcr_total.resolved, report.fcr_total.first_contact) == (2, 1)
    assert report.fcr_total.rate_text == "50.0 %"
    telephony = next(r for r in report.fcr if r.slug == "telephony")
    assert telephony.resolved == 2
    # Times: the first case answered and resolved at once, the second after 30 min.
    everyone = next(t for t in report.times if t.group == "All groups" and not t.criticality)
    assert everyone.opened == 4 and everyone.responded == 2 and everyone.resolved == 2
    assert everyone.response_median == 15 and everyone.response_p90 == 30
    # SLA: the answered and resolved clocks met their targets.
    assert (report.sla_total.response_decided, report.sla_total.response_met) == (2, 2)
    assert (report.sla_total.resolution_decided, report.sla_total.resolution_met) == (2, 2)
    # The escalation was acknowledged 90 minutes in, past its hour.
    esc = report.escalation_total
    assert (esc.raised, esc.acknowledged, esc.in_time, esc.open) == (1, 1, 0, 0)
    assert esc.ack_median == 90 and esc.in_time_text == "0.0 %"
    assert b"50.0 %" in page.content and b"1 h 30 min" in page.content
    assert b"first proposed solution was confirmed" in page.content


def test_a_breached_clock_counts_as_missed(cycle):
    third = cycle["third"]
    Case.objects.filter(pk=third.pk).update(response_breached_at=third.created_at)
    report = reports.case_report(period=reports.parse_period(**PERIOD))
    assert (report.sla_total.response_decided, report.sla_total.response_met) == (3, 2)


def test_period_and_group_filters(cycle, care_manager, page_as):
    client = page_as(care_manager)
    empty = client.get(URL, {"since": "2026-12-01", "until": "2026-12-31"})
    assert empty.status_code == 200 and b"No case was opened in this period" in empty.content
    SupportGroup.objects.create(slug="voice", name="Voice Self Service")
    other = reports.case_report(period=reports.parse_period(**PERIOD),
                                group=reports.parse_group("voice"))
    assert other.total.opened == 0 and other.escalation_total.raised == 0
    mine = reports.case_report(period=reports.parse_period(**PERIOD),
                               group=reports.parse_group("telephony"))
    assert mine.total.opened == 4 and [r.label for r in mine.fcr] == ["Telephony"]
    for bad in ({"since": "2026-13-01"}, {"since": "yesterday"}, {"group": "nope"},
                {"since": "2026-11-30", "until": "2026-11-01"},
                {"group": "<script>"}, {"format": "csv", "table": "secrets"}):
        response = client.get(URL, bad)
        assert response.status_code == 400, bad
        assert b'role="alert"' in response.content
        assert b"<script>" not in response.content


def test_default_period_is_the_last_30_days():
    now = datetime.datetime(2026, 5, 14, 9, 0, tzinfo=datetime.UTC)
    period = reports.parse_period("", "", now)
    assert (period.since, period.until) == (datetime.date(2026, 4, 15), datetime.date(2026, 5, 14))
    assert period.days == 30
    assert reports.parse_period("2026-01-01", "", now).until == datetime.date(2026, 1, 30)


def test_csv_exports_every_table_safely(cycle, care_manager, page_as):
    SupportGroup.objects.filter(slug="telephony").update(name="=cmd|' /C calc'!A0")
    client = page_as(care_manager)
    for table in reports.TABLES:
        response = client.get(URL, {**PERIOD, "format": "csv", "table": table})
        assert response.status_code == 200, table
        assert response["Content-Type"].startswith("text/csv")
        assert f"cases-{table}-2026-11-01_2026-11-30.csv" in response["Content-Disposition"]
        rows = _rows(response)
        assert rows, table
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "@")), (table, value)
    fcr = _rows(client.get(URL, {**PERIOD, "format": "csv", "table": "fcr"}))
    assert {"group": "telephony", "group_name": "'=cmd|' /C calc'!A0",
            "first_contact_resolution_rate": "0.5"}.items() <= fcr[0].items()
    times = _rows(client.get(URL, {**PERIOD, "format": "csv", "table": "times",
                                   "group": "telephony"}))
    assert {r["criticality"] for r in times} == {"1", "2", "3", "4", "all"}


def test_percentiles():
    assert reports.median([]) is None and reports.percentile([], 90) is None
    assert reports.median([3, 1, 2]) == 2 and reports.median([1, 2, 3, 4]) == 2.5
    assert reports.percentile(list(range(1, 11)), 90) == 9
    assert reports.percentile([5], 90) == 5
    assert reports.minutes_text(59.6) == "1 h" and reports.minutes_text(1500) == "1 d 1 h"


def test_reports_read_every_tenant(cycle, contact_b, tenant_b, product, care_manager):
    with time_machine.travel(TUESDAY_NOON_NY, tick=False):
        services.case_open(actor=contact_b, organization=tenant_b, product=product,
                           deployment="premise", criticality=3, summary="Other tenant",
                           description="Hello")
    report = reports.case_report(period=reports.parse_period(**PERIOD))
    assert report.total.opened == 5
    assert CaseEscalation.objects.count() == 1
