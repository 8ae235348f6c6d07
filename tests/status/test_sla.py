"""The SLA report on hand-built months: outage minutes counted once, maintenance taken
out, degradations reported but not counted, the contract's target and credit tier, the
pages, the API and the CSV, and bad months refused with a reason."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from fractions import Fraction

import pytest
import time_machine

from caredeck.status.reports import Month, credit_tier, sla_report
from tests.factories import OrganizationFactory
from tests.status.conftest import area, at

JUNE = Month(2025, 6)  # 30 days: 43,200 minutes


@pytest.fixture
def outage_43_minutes(deployed, tenant_a, make_incident, affect):
    """SEV1 on two of A's areas at once for 43.2 minutes: 0.1 % of June."""
    incident = make_incident(
        severity="SEV1", detected_at=at("2025-06-10 10:00"),
        resolved_at=at("2025-06-10 10:43:12"),
    )
    affect(incident, tenant_a, [area("call_routing"), area("agent_login")])
    return incident


@pytest.mark.django_db
def test_43_minutes_of_outage_in_a_30_day_month_is_99_9_percent(outage_43_minutes, tenant_a):
    report = sla_report(tenant_a, JUNE)
    assert report.period_minutes == 43200
    assert report.outage_minutes == 43.2  # two areas at once count once
    assert report.availability == Fraction(999, 1000)
    assert report.availability_text == "99.900 %"
    assert not report.meets_target
    # 99.9 is below 99.99 but not below 99.0: the 5 % tier.
    assert (report.credit, report.credit_below) == (Decimal(5), Decimal("99.99"))
    minutes = {a.area: (a.impacted_minutes, a.outage_minutes) for a in report.areas}
    assert minutes == {
        "call_routing": (43.2, 43.2), "agent_login": (43.2, 43.2), "reporting": (0, 0)
    }


@pytest.mark.django_db
def test_maintenance_is_excluded_and_degradations_do_not_count_as_outage(
    deployed, tenant_a, make_incident, affect, make_window
):
    # A completed window 02:00-03:00; a SEV2 02:30-03:30 counts only from 03:00.
    make_window(tenant_a, [area("reporting")], starts_at=at("2025-06-20 02:00"),
                ends_at=at("2025-06-20 03:00"), started_at=at("2025-06-20 02:00"),
                completed_at=at("2025-06-20 03:00"))
    sev2 = make_incident(severity="SEV2", detected_at=at("2025-06-20 02:30"),
                         resolved_at=at("2025-06-20 03:30"))
    affect(sev2, tenant_a, [area("reporting")])
    # 100 minutes of SEV3: impacted, not unavailable ...
    sev3 = make_incident(severity="SEV3", detected_at=at("2025-06-25 08:00"),
                         resolved_at=at("2025-06-25 09:40"))
    affect(sev3, tenant_a, [area("call_routing")])
    # ... unless the area's service is unavailable.
    sev3_down = make_incident(severity="SEV3", detected_at=at("2025-06-26 08:00"),
                              resolved_at=at("2025-06-26 08:10"))
    affect(sev3_down, tenant_a, [area("agent_login", unavailable=True)])
    # A cancelled window never took time away.
    make_window(tenant_a, [], starts_at=at("2025-06-27 02:00"), ends_at=at("2025-06-27 06:00"),
                status="cancelled")

    report = sla_report(tenant_a, JUNE)
    assert report.maintenance_minutes == 60
    assert report.outage_minutes == 40  # 30 after the window + 10 unavailable
    assert report.impacted_minutes == 140
    assert report.availability == 1 - Fraction(40, 43200 - 60)
    assert report.availability_text == "99.907 %"
    by_area = {a.area: (a.impacted_minutes, a.outage_minutes) for a in report.areas}
    assert by_area == {
        "call_routing": (100, 0), "agent_login": (10, 10), "reporting": (30, 30)
    }


@pytest.mark.django_db
def test_incidents_are_clipped_to_the_month_and_tenants_added_later_count_from_then(
    deployed, tenant_a, tenant_b, make_incident, affect
):
    across = make_incident(severity="SEV1", detected_at=at("2025-05-31 23:00"),
                           resolved_at=at("2025-06-01 01:00"))
    affect(across, tenant_a, [area("call_routing")])
    affect(across, tenant_b, [area("call_routing")], added_at=at("2025-06-01 00:30"))
    removed = make_incident(severity="SEV1", detected_at=at("2025-06-05 10:00"),
                            resolved_at=at("2025-06-05 12:00"))
    affect(removed, tenant_b, [area("agent_login")], removed_at=at("2025-06-05 10:20"),
           first_notice_at=at("2025-06-05 10:10"))
    assert sla_report(tenant_a, JUNE).outage_minutes == 60
    assert sla_report(tenant_a, Month(2025, 5)).outage_minutes == 60
    assert sla_report(tenant_b, JUNE).outage_minutes == 30 + 20


@pytest.mark.parametrize(
    ("availability", "expected"),
    [
        ("99.995", (0, None)),
        ("99.99", (0, None)),  # "below" is strict
        ("99.98", (5, "99.99")),
        ("99.0", (5, "99.99")),
        ("98.5", (15, "99.0")),
        ("94.0", (100, "95.0")),
    ],
)
def test_the_lowest_level_fallen_below_gives_the_credit(availability, expected):
    tiers = [
        {"below": "99.99", "credit": 5}, {"below": "99.0", "credit": 15},
        {"below": "95.0", "credit": 100},
    ]
    credit, below = credit_tier(Fraction(Decimal(availability)), tiers)
    assert (credit, below) == (Decimal(expected[0]), expected[1] and Decimal(expected[1]))


def test_malformed_tiers_are_skipped():
    assert credit_tier(Fraction(90), [{"below": "x"}, {"credit": 3}, "junk", None]) == (
        Decimal(0), None
    )


@pytest.mark.django_db
def test_the_contracts_own_target_and_tiers_apply(outage_43_minutes, tenant_a):
    contract = tenant_a.contract
    contract.availability_target = Decimal("99.5")
    contract.sla_credit_tiers = [{"below": "99.95", "credit": 2}, {"below": "99.5", "credit": 10}]
    contract.save()
    report = sla_report(tenant_a, JUNE)
    assert report.meets_target
    assert (report.credit, report.credit_below) == (Decimal(2), Decimal("99.95"))


@pytest.mark.django_db
def test_the_month_in_progress_is_measured_so_far(deployed, tenant_a, make_incident, affect):
    with time_machine.travel(at("2025-06-02 00:00"), tick=False):
        incident = make_incident(severity="SEV1", detected_at=at("2025-06-01 23:00"))
        affect(incident, tenant_a, [area("call_routing")])
        report = sla_report(tenant_a, JUNE)
    assert report.month_to_date
    assert report.period_minutes == 1440
    assert report.outage_minutes == 60
    assert report.availability == 1 - Fraction(60, 1440)


# --- Pages, API, CSV --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sla_page_and_its_csv(client, member_a, outage_43_minutes):
    client.force_login(member_a)
    html = client.get("/reports/sla/?month=2025-06").content.decode()
    assert "99.900 %" in html
    assert "service credit of <strong>5 %</strong>" in html
    response = client.get("/reports/sla/?month=2025-06&format=csv")
    assert response["Content-Disposition"] == 'attachment; filename="sla-2025-06-acme.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["area"] for r in rows) == ["", "agent_login", "call_routing", "reporting"]
    total = rows[-1]
    assert total["area_name"] == "All areas"
    assert (total["outage_minutes"], total["availability_percent"]) == ("43.2", "99.9000")
    assert (total["meets_target"], total["credit_percent"], total["target_percent"]) == (
        "no", "5", "99.99"
    )
    by_area = {r["area"]: r["impacted_minutes"] for r in rows}
    assert (by_area["call_routing"], by_area["reporting"]) == ("43.2", "0.0")


@pytest.mark.django_db
def test_another_tenants_report_is_404(client, api, member_b, outage_43_minutes):
    client.force_login(member_b)
    assert client.get("/reports/sla/?month=2025-06&organization=acme").status_code == 404
    api.force_authenticate(member_b)
    assert api.get("/api/v1/reports/sla/?month=2025-06&organization=acme").status_code == 404
    own = api.get("/api/v1/reports/sla/?month=2025-06").json()
    assert (own["organization"], own["availability"]) == ("globex", 100.0)


@pytest.mark.django_db
@pytest.mark.parametrize("month", ["2026-13", "2025-6", "June", "2025-00", "9999-01"])
def test_a_bad_month_is_a_400_on_month(api, client, member_a, month):
    api.force_authenticate(member_a)
    for url in ("/api/v1/reports/sla/", "/api/v1/reports/promises/"):
        response = api.get(url, {"month": month})
        assert response.status_code == 400
        assert list(response.json()) == ["month"]
    client.force_login(member_a)
    response = client.get("/reports/sla/", {"month": month})
    assert response.status_code == 400
    assert 'id="month-error"' in response.content.decode()


@pytest.mark.django_db
def test_the_api_gives_the_areas_and_the_credit(api, member_a, outage_43_minutes):
    api.force_authenticate(member_a)
    body = api.get("/api/v1/reports/sla/?month=2025-06").json()
    assert body["organization"] == "acme"
    assert body["availability"] == 99.9
    assert body["target"] == 99.99
    assert (body["meets_target"], body["credit"], body["credit_tier_below"]) == (
        False, 5, 99.99
    )
    assert body["maintenance_minutes"] == 0
    assert {a["area"]: a["outage_minutes"] for a in body["areas"]}["agent_login"] == 43.2


@pytest.mark.django_db
def test_staff_get_every_tenant_lowest_availability_first(
    api, client, care_analyst, outage_43_minutes, tenant_b
):
    for n in range(3):
        OrganizationFactory(slug=f"quiet-{n}", name=f"Quiet {n}")
    api.force_authenticate(care_analyst)
    body = api.get("/api/v1/reports/sla/?month=2025-06&page_size=2").json()
    assert body["count"] == 5
    assert [r["organization"] for r in body["results"]] == ["acme", "globex"]
    assert body["results"][0]["credit"] == 5
    assert body["next"]

    client.force_login(care_analyst)
    html = client.get("/reports/sla/?month=2025-06&below=1").content.decode()
    assert ">Acme Telecom</a>" in html and ">Quiet 0</a>" not in html
    rows = list(csv.DictReader(io.StringIO(
        client.get("/reports/sla/?month=2025-06&format=csv").content.decode()
    )))
    assert [r["organization"] for r in rows][:2] == ["acme", "globex"]
    assert len(rows) == 5
