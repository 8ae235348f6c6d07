"""The promise report on a hand-built incident: first notices and updates kept or missed
and by how much, clocks overdue now, the share kept, the month view and its CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine

from caredeck.incidents.models import ClockKind, NoticeKind
from caredeck.status.reports import Month, Outcome, incident_promises, promises_month
from tests.status.conftest import area, at

NOW = at("2025-06-10 11:40")


@pytest.fixture
def promised(deployed, tenant_a, tenant_b, make_incident, affect, notice):
    """SEV1 detected 10:00, still open at 11:40.

    A (in scope from the start): first notice due 10:15 sent 10:12 (kept); an update due
    10:42 sent 10:50 (missed by 8 min); one due 11:20 sent 11:15 (kept); the next due
    11:45 (pending). B (added at 10:30): first notice due 10:45 sent 10:55 (missed by
    10 min); its next update was due 11:25 and nothing went out (overdue by 15 min).
    """
    incident = make_incident(severity="SEV1", detected_at=at("2025-06-10 10:00"))
    affect(incident, tenant_a, [area("call_routing")], due_kind=ClockKind.UPDATE,
           due_at=at("2025-06-10 11:45"), first_notice_at=at("2025-06-10 10:12"))
    affect(incident, tenant_b, [area("call_routing")], added_at=at("2025-06-10 10:30"),
           due_kind=ClockKind.UPDATE, due_at=at("2025-06-10 11:25"),
           first_notice_at=at("2025-06-10 10:55"))
    notice(incident, tenant_a, NoticeKind.FIRST, due_at=at("2025-06-10 10:15"),
           sent_at=at("2025-06-10 10:12"))
    notice(incident, tenant_a, NoticeKind.UPDATE, due_at=at("2025-06-10 10:42"),
           sent_at=at("2025-06-10 10:50"))
    notice(incident, tenant_a, NoticeKind.UPDATE, due_at=at("2025-06-10 11:20"),
           sent_at=at("2025-06-10 11:15"))
    notice(incident, tenant_b, NoticeKind.FIRST, due_at=at("2025-06-10 10:45"),
           sent_at=at("2025-06-10 10:55"))
    # A notice without a due time promises nothing.
    notice(incident, tenant_b, NoticeKind.REPORT, due_at=None, sent_at=at("2025-06-10 11:00"))
    return incident


@pytest.mark.django_db
def test_each_tenants_promises_are_kept_missed_or_overdue(promised, tenant_a, tenant_b):
    a, b = incident_promises(promised, now=NOW)
    assert (a.slug, b.slug) == ("acme", "globex")

    assert a.first_notice_kept is True
    assert a.first_notice_due == at("2025-06-10 10:15")
    assert a.first_notice_sent == at("2025-06-10 10:12")
    assert a.time_to_first_notice == dt.timedelta(minutes=12)
    assert (a.updates_kept, a.updates_missed) == (1, 1)
    assert [line.outcome for line in a.updates] == [
        Outcome.MISSED, Outcome.KEPT, Outcome.PENDING
    ]
    assert a.updates[0].late_by == dt.timedelta(minutes=8)
    assert a.worst_lateness == dt.timedelta(minutes=8)
    assert a.overdue_now is None

    # B's clock started when it was added, 30 minutes after detection.
    assert b.first_notice_kept is False
    assert b.time_to_first_notice == dt.timedelta(minutes=25)
    assert b.first_notice.late_by == dt.timedelta(minutes=10)
    assert b.overdue_now.late_by == dt.timedelta(minutes=15)
    assert (b.updates_kept, b.updates_missed) == (0, 1)
    assert b.worst_lateness == dt.timedelta(minutes=15)

    only_a = incident_promises(promised, organizations=[tenant_a], now=NOW)
    assert [t.slug for t in only_a] == ["acme"]


@pytest.mark.django_db
def test_the_month_totals_give_the_share_kept(promised, care_analyst, member_a):
    report = promises_month(care_analyst, Month(2025, 6), now=NOW)
    [incident] = report.incidents
    totals = report.totals
    assert (totals.kept, totals.missed, totals.overdue) == (2, 3, 1)
    assert (totals.first_kept, totals.first_missed) == (1, 1)
    assert totals.share_kept_text == "40.0 %"
    assert incident.totals.kept == 2

    # A tenant's people see their own promises only.
    own = promises_month(member_a, Month(2025, 6), now=NOW)
    assert [t.slug for t in own.incidents[0].tenants] == ["acme"]
    assert own.totals.share_kept_text == "66.6 %"
    assert promises_month(care_analyst, Month(2025, 5), now=NOW).incidents == []


@pytest.mark.django_db
def test_once_resolved_no_clock_is_overdue(promised, care_analyst):
    promised.status = "resolved"
    promised.resolved_at = at("2025-06-10 11:30")
    promised.save()
    report = promises_month(care_analyst, Month(2025, 6), now=NOW)
    assert report.totals.overdue == 0
    assert (report.totals.kept, report.totals.missed) == (2, 2)


@pytest.mark.django_db
def test_the_promise_api_and_csv(api, client, promised, member_a, care_analyst):
    with time_machine.travel(NOW, tick=False):
        api.force_authenticate(member_a)
        body = api.get("/api/v1/reports/promises/?month=2025-06").json()
        [incident] = body["incidents"]
        [tenant] = incident["tenants"]
        assert tenant["organization"] == "acme"
        assert tenant["first_notice"]["outcome"] == "kept"
        assert tenant["time_to_first_notice_minutes"] == 12.0
        assert tenant["worst_lateness_minutes"] == 8.0
        assert body["totals"]["share_kept"] == 0.6667
        assert "globex" not in str(body)

        client.force_login(care_analyst)
        response = client.get("/reports/promises/?month=2025-06&format=csv")
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by = {(r["organization"], r["due_at"]): r for r in rows}
    assert len(rows) == 6
    assert by[("acme", "2025-06-10T10:15:00Z")]["outcome"] == "kept"
    assert by[("acme", "2025-06-10T10:15:00Z")]["time_to_first_notice_minutes"] == "12.0"
    assert by[("acme", "2025-06-10T10:42:00Z")]["late_by_minutes"] == "8.0"
    assert by[("globex", "2025-06-10T11:25:00Z")]["outcome"] == "overdue"
    assert by[("globex", "2025-06-10T11:25:00Z")]["late_by_minutes"] == "15.0"
    assert by[("acme", "2025-06-10T11:45:00Z")]["outcome"] == "pending"


@pytest.mark.django_db
def test_the_promise_page_shows_each_tenant(client, promised, care_analyst, member_b):
    with time_machine.travel(NOW, tick=False):
        client.force_login(care_analyst)
        html = client.get("/reports/promises/?month=2025-06").content.decode()
        assert "Acme Telecom" in html and "Globex Insurance" in html
        assert "missed by 10 min" in html
        assert "overdue now by 15 min" in html
        client.force_login(member_b)
        html = client.get("/reports/promises/?month=2025-06").content.decode()
        assert "Acme" not in html
        assert client.get("/reports/promises/?organization=acme").status_code == 404
