"""The maintenance API: its shape, who sees what (staff everything; a tenant only the
windows that concern it and only its own row), 404 for another tenant's window, 403 for
a role that may not act, 409 for a state that forbids it, 400 per field, the .ics."""

from __future__ import annotations

import icalendar
import pytest

from caredeck.maintenance.models import MaintenanceStatus
from caredeck.notify.ics import uid_for
from tests.maintenance.conftest import END, HOUR, MINUTE, START

LIST = "/api/v1/maintenances/"


def _url(window, action: str = "") -> str:
    return f"{LIST}{window.number}/{action + '/' if action else ''}"


def _body(**overrides) -> dict:
    return {
        "title": "Database failover test",
        "impact": "Reports may lag for ten minutes.",
        "starts_at": START.isoformat(),
        "ends_at": END.isoformat(),
        "failure": {"target": "pop-ashburn"},
        **overrides,
    }



def test_scheduling_answers_the_window_with_its_tenants_and_clocks(
    clock, deployed, as_user, incident_manager, contact_a, contact_b
):
    response = as_user(incident_manager).post(LIST, _body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["number"].startswith("MNT-") and data["status"] == "scheduled"
    assert data["sequence"] == 0 and data["auto_complete"] is False
    assert data["starts_at"] == "2030-06-08T08:00:00Z"
    assert data["owner"] == {"id": incident_manager.pk, "name": "Ines Manager"}
    assert data["failure"] == {"target": "pop-ashburn", "failure": None}
    assert [t["organization"] for t in data["tenants"]] == ["acme", "globex"]
    assert data["tenants"][0]["impact_text"] and data["tenants"][0]["areas"]
    assert data["notices"]["announcement"] == 2 and data["notices"]["reminder"] == 0
    assert [c["kind"] for c in data["clocks"]] == [
        "reminder_72h", "reminder_24h", "reminder_1h", "start", "end"
    ]
    assert data["url"] == f"/maintenance/{data['number']}/"
    assert data["ics"] == f"/api/v1/maintenances/{data['number']}.ics"


def test_a_scope_of_chosen_tenants_and_areas(clock, deployed, as_user, incident_manager):
    body = _body(failure=None, organizations=["globex"], areas=["call_routing"])
    response = as_user(incident_manager).post(LIST, body, format="json")
    assert response.status_code == 201, response.json()
    (tenant,) = response.json()["tenants"]
    assert tenant["organization"] == "globex"
    assert [a["area"] for a in tenant["areas"]] == ["call_routing"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": START.isoformat()}, "ends_at"),
        ({"starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-01T01:00:00Z"}, "starts_at"),
        ({"failure": {"target": "atlantis"}}, "failure"),
        ({"failure": None, "organizations": ["nobody"]}, "organizations"),
        ({"title": ""}, "title"),
        ({"starts_at": "soon"}, "starts_at"),
        ({"owner": 999999}, "owner"),
    ],
)
def test_bad_input_answers_400_on_the_field(
    clock, deployed, as_user, incident_manager, changes, field
):
    response = as_user(incident_manager).post(LIST, _body(**changes), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


@pytest.mark.parametrize("who", ["admin_a", "contact_a", "care_analyst", "partner_user"])
def test_a_role_that_may_not_schedule_gets_403(request, clock, deployed, as_user, who):
    response = as_user(request.getfixturevalue(who)).post(LIST, _body(), format="json")
    assert response.status_code == 403
    assert "detail" in response.json()


def test_a_tenant_sees_only_its_windows_and_only_its_own_row(
    clock, schedule, as_user, member_b, care_analyst
):
    both = schedule()
    only_a = schedule(failure={"target": "us-east"})
    staff = as_user(care_analyst).get(LIST).json()
    assert staff["count"] == 2

    listed = as_user(member_b).get(LIST).json()
    assert listed["count"] == 1
    (item,) = listed["results"]
    assert item["number"] == both.number
    assert [t["organization"] for t in item["tenants"]] == ["globex"]
    detail = as_user(member_b).get(_url(both))
    assert detail.status_code == 200
    text = detail.content.decode()
    assert "acme" not in text and "Acme" not in text
    assert detail.json()["notices"]["announcement"] == 1  # only its own

    for url in (_url(only_a), f"{LIST}{only_a.number}.ics"):
        assert as_user(member_b).get(url).status_code == 404
    assert as_user(member_b).post(_url(only_a, "cancel"), {}, format="json").status_code == 404
    assert as_user(member_b).patch(_url(only_a), {"title": "x"}, format="json").status_code == 404


def test_a_partner_sees_the_windows_of_the_tenants_it_serves(
    clock, schedule, as_user, partner_user
):
    only_a = schedule(failure={"target": "us-east"})
    only_b = schedule(failure={"target": "us-west"})
    listed = as_user(partner_user).get(LIST).json()
    assert [m["number"] for m in listed["results"]] == [only_a.number]
    assert as_user(partner_user).get(_url(only_b)).status_code == 404


def test_a_customer_may_read_but_not_act(clock, schedule, as_user, member_b):
    window = schedule()
    for action in ("start", "complete", "cancel"):
        assert as_user(member_b).post(_url(window, action), {}, format="json").status_code == 403
    assert as_user(member_b).patch(_url(window), {"title": "x"}, format="json").status_code == 403


def test_junk_numbers_answer_404(clock, deployed, as_user, incident_manager):
    client = as_user(incident_manager)
    for number in ("MNT-999999", "INC-000001", "mnt-1", "MNT-000001%00"):
        assert client.get(f"{LIST}{number}/").status_code == 404


def test_patch_reschedules_with_a_higher_sequence(clock, schedule, as_user, incident_manager):
    window = schedule()
    later = START + 24 * HOUR
    response = as_user(incident_manager).patch(
        _url(window),
        {"starts_at": later.isoformat(), "ends_at": (later + HOUR).isoformat(), "title": "Moved"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["sequence"], data["title"]) == (1, "Moved")
    assert data["notices"]["rescheduled"] == 2
    assert data["starts_at"] == "2030-06-09T08:00:00Z"
    bad = as_user(incident_manager).patch(
        _url(window), {"ends_at": (later - HOUR).isoformat()}, format="json"
    )
    assert bad.status_code == 400 and "ends_at" in bad.json()


def test_patch_changes_the_scope(clock, schedule, as_user, incident_manager):
    window = schedule()
    response = as_user(incident_manager).patch(
        _url(window), {"failure": {"target": "us-west"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert [t["organization"] for t in data["tenants"]] == ["globex"]
    assert [t["organization"] for t in data["removed_tenants"]] == ["acme"]
    assert data["notices"]["cancelled"] == 1 and data["sequence"] == 1


def test_actions_follow_the_state_table(clock, schedule, as_user, incident_manager):
    window = schedule()
    client = as_user(incident_manager)
    early = client.post(_url(window, "start"), {}, format="json")
    assert early.status_code == 409 and "reschedule" in early.json()["detail"]
    assert client.post(_url(window, "complete"), {}, format="json").status_code == 409

    clock.move_to(START - 10 * MINUTE)
    started = client.post(_url(window, "start"), {}, format="json")
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    refused = client.post(_url(window, "cancel"), {"reason": "x"}, format="json")
    assert refused.status_code == 409
    assert "cannot be cancelled" in refused.json()["detail"]
    moved = client.patch(
        _url(window), {"starts_at": (START + HOUR).isoformat()}, format="json"
    )
    assert moved.status_code == 409

    done = client.post(_url(window, "complete"), format="json")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert done.json()["notices"]["end"] == 2
    again = client.post(_url(window, "complete"), format="json")
    assert again.status_code == 409 and "already completed" in again.json()["detail"]


def test_cancel_takes_an_optional_reason(clock, schedule, as_user, incident_manager):
    window = schedule()
    client = as_user(incident_manager)
    too_long = client.post(_url(window, "cancel"), {"reason": "x" * 1001}, format="json")
    assert too_long.status_code == 400 and "reason" in too_long.json()
    response = client.post(_url(window, "cancel"), {"reason": "Vendor delay"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == MaintenanceStatus.CANCELLED
    assert response.json()["sequence"] == 1


def test_the_ics_is_the_current_invite_for_the_caller(
    clock, schedule, as_user, incident_manager, contact_b
):
    window = schedule()
    response = as_user(contact_b).get(f"{LIST}{window.number}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar"
    assert f'filename="{window.number}.ics"' in response["Content-Disposition"]
    calendar = icalendar.Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid_for(window.number), 0)

    as_user(incident_manager).post(_url(window, "cancel"), {}, format="json")
    cancelled = icalendar.Calendar.from_ical(
        as_user(contact_b).get(f"{LIST}{window.number}.ics").content
    )
    (event,) = cancelled.walk("VEVENT")
    assert str(cancelled["METHOD"]) == "CANCEL"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid_for(window.number), 1)


def test_the_list_filters_by_when(clock, schedule, as_user, incident_manager):
    upcoming = schedule()
    soon = schedule(starts_at=START - 24 * HOUR, ends_at=START - 23 * HOUR)
    clock.move_to(START - 24 * HOUR)
    client = as_user(incident_manager)
    client.post(_url(soon, "start"), {}, format="json")

    def numbers(when: str) -> list[str]:
        return [m["number"] for m in client.get(f"{LIST}?when={when}").json()["results"]]

    assert numbers("upcoming") == [upcoming.number]
    assert numbers("in_progress") == [soon.number]
    assert numbers("past") == []
    assert client.get(f"{LIST}?when=bogus").json()["count"] == 2


def test_anonymous_callers_are_refused(db, api):
    assert api.get(LIST).status_code in (401, 403)
