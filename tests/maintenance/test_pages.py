"""Maintenance pages: the list (tabs, empty states, each reader's own rows), scheduling
(errors beside the fields, with what was typed kept), a window's page for staff and for
a tenant, the actions, rescheduling, the scope, the home worklist and the demo data."""

from __future__ import annotations

import re

from caredeck.maintenance.demo import load_demo_maintenance
from caredeck.maintenance.models import Maintenance, MaintenanceStatus
from tests.maintenance.conftest import END, HOUR, MINUTE, START


def text(response) -> str:
    return response.content.decode()


def _form(**overrides) -> dict:
    return {
        "title": "Switch firmware",
        "impact": "Agents may need to log in again.",
        "starts_at": "2030-06-08T08:00",
        "ends_at": "2030-06-08T10:00",
        "scope": "failure",
        "target": "pop-ashburn",
        **overrides,
    }


# --- The list -------------------------------------------------------------------------------


def test_an_empty_list_says_what_it_is_for(clock, page_as, member_a, incident_manager):
    html = text(page_as(member_a).get("/maintenance/"))
    assert "No maintenance planned" in html
    assert "Schedule a window" not in html
    html = text(page_as(incident_manager).get("/maintenance/"))
    assert 'href="/maintenance/new/"' in html


def test_the_list_shows_each_reader_its_own(clock, schedule, page_as, member_b, care_analyst):
    both = schedule()
    only_a = schedule(failure={"target": "us-east"}, title="Only for A")
    staff_html = text(page_as(care_analyst).get("/maintenance/"))
    assert both.number in staff_html and only_a.number in staff_html
    assert "2 tenants" in staff_html

    response = page_as(member_b).get("/maintenance/")
    assert response.status_code == 200
    html = text(response)
    assert both.number in html and only_a.number not in html
    assert "Agent login, Call routing" in html  # B's own areas
    assert "Acme" not in html and "Historical" not in html


def test_the_list_has_tabs_for_upcoming_in_progress_and_past(
    clock, schedule, page_as, incident_manager
):
    window = schedule()
    client = page_as(incident_manager)
    assert window.number in text(client.get("/maintenance/?when=upcoming"))
    assert window.number not in text(client.get("/maintenance/?when=past"))
    clock.move_to(START)
    client.post(f"/maintenance/{window.number}/start/")
    # With a window in progress, the list opens on that tab.
    html = text(client.get("/maintenance/"))
    assert re.search(r'href="\?when=in_progress" aria-current="page"', html)
    assert window.number in html and "In progress" in html


def test_the_navigation_offers_maintenance_to_customers_and_staff(
    clock, page_as, member_a, incident_manager
):
    for user in (member_a, incident_manager):
        assert 'href="/maintenance/"' in text(page_as(user).get("/home/"))


# --- Scheduling ----------------------------------------------------------------------------


def test_only_people_who_run_maintenance_get_the_form(clock, deployed, page_as, member_a,
                                                       care_analyst):
    assert page_as(member_a).get("/maintenance/new/").status_code == 403
    assert page_as(care_analyst).post("/maintenance/new/", _form()).status_code == 403
    assert not Maintenance.objects.exists()


def test_errors_show_beside_the_fields_and_keep_what_was_typed(
    clock, deployed, page_as, incident_manager
):
    response = page_as(incident_manager).post(
        "/maintenance/new/",
        _form(title="Keep this title", ends_at="2030-06-08T07:00", target="", impact=""),
    )
    assert response.status_code == 200
    html = text(response)
    assert 'value="Keep this title"' in html
    assert "Choose the element under maintenance." in html
    assert "The end must be after the start." in html
    assert 'id="id_ends_at_error"' in html and 'id="id_target_error"' in html
    assert not Maintenance.objects.exists()


def test_a_service_error_lands_on_its_field(clock, deployed, page_as, incident_manager):
    response = page_as(incident_manager).post(
        "/maintenance/new/",
        _form(scope="tenants", target="", organizations="acme, nobody", areas=["call_routing"]),
    )
    html = text(response)
    assert 'id="id_organizations_error"' in html and "nobody" in html
    assert 'value="acme, nobody"' in html


def test_scheduling_announces_and_shows_the_tenants(
    clock, deployed, page_as, incident_manager, contact_a
):
    client = page_as(incident_manager)
    response = client.post("/maintenance/new/", _form())
    window = Maintenance.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/maintenance/{window.number}/"
    assert window.starts_at == START and window.owner == incident_manager
    html = text(client.get(response["Location"]))
    assert "announced to 2 tenants" in html
    assert "Acme Telecom" in html and "Globex Insurance" in html
    assert "Announcement with calendar invite, sequence 0 sent" in html
    assert f'href="/maintenance/{window.number}.ics"' in html
    assert "72 h reminder due" in html  # a clock


def test_times_typed_are_in_the_viewers_time_zone(clock, deployed, page_as, incident_manager):
    incident_manager.timezone = "Europe/Berlin"
    incident_manager.save()
    page_as(incident_manager).post("/maintenance/new/", _form())
    assert Maintenance.objects.get().starts_at == START - 2 * HOUR  # 08:00 CEST = 06:00 UTC


# --- A window's page -----------------------------------------------------------------------


def test_the_page_of_a_window_for_staff(clock, schedule, page_as, incident_manager):
    window = schedule()
    html = text(page_as(incident_manager).get(f"/maintenance/{window.number}/"))
    assert f'<span class="objnum">{window.number}</span> Edge router upgrade' in html
    assert "◷ </span>Scheduled" in html
    for action in ("reschedule", "scope", "cancel"):
        assert f"/maintenance/{window.number}/{action}/" in html
    # Starting is offered from an hour before the announced start; completing once started.
    assert f"/maintenance/{window.number}/start/" not in html
    assert f"/maintenance/{window.number}/complete/" not in html
    assert "Ines Manager" in html and "Planned end due" in html
    clock.move_to(START - HOUR)
    html = text(page_as(incident_manager).get(f"/maintenance/{window.number}/"))
    assert f"/maintenance/{window.number}/start/" in html


def test_the_page_of_a_window_for_a_tenant_shows_its_own_story(
    clock, schedule, page_as, member_b
):
    window = schedule()
    response = page_as(member_b).get(f"/maintenance/{window.number}/")
    assert response.status_code == 200
    html = text(response)
    assert "What Globex Insurance may notice" in html
    assert "Acme" not in html and "acme" not in html
    assert "/start/" not in html and "/cancel/" not in html
    assert "Globex Insurance: 2 messages" in html


def test_another_tenants_window_is_not_there(clock, schedule, page_as, member_b):
    only_a = schedule(failure={"target": "us-east"})
    client = page_as(member_b)
    for path in ("/", ".ics", "/reschedule/", "/scope/", "/cancel/"):
        suffix = path if path != "/" else "/"
        url = f"/maintenance/{only_a.number}{suffix}"
        assert client.get(url).status_code == 404, url
    assert client.post(f"/maintenance/{only_a.number}/cancel/").status_code == 404
    assert client.get("/maintenance/MNT-999999/").status_code == 404


def test_a_tenant_cannot_act_on_its_window(clock, schedule, page_as, member_b):
    window = schedule()
    client = page_as(member_b)
    assert client.post(f"/maintenance/{window.number}/cancel/").status_code == 403
    assert client.get(f"/maintenance/{window.number}/cancel/").status_code == 403
    assert client.get(f"/maintenance/{window.number}/reschedule/").status_code == 403
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.SCHEDULED


def test_actions_by_hand_and_their_refusals(clock, schedule, page_as, incident_manager):
    window = schedule()
    client = page_as(incident_manager)
    response = client.post(f"/maintenance/{window.number}/start/", follow=True)
    assert "at most 60 minutes early" in text(response)
    clock.move_to(START - 5 * MINUTE)
    response = client.post(f"/maintenance/{window.number}/start/", follow=True)
    html = text(response)
    assert "started: the start notice is on its way" in html
    assert "▶ </span>In progress" in html
    assert f"/maintenance/{window.number}/cancel/" not in html  # not allowed in progress
    response = client.post(f"/maintenance/{window.number}/cancel/", follow=True)
    assert "cannot be cancelled" in text(response)
    clock.move_to(END + MINUTE)
    html = text(client.get(f"/maintenance/{window.number}/"))
    assert "Running past its planned end" in html
    response = client.post(f"/maintenance/{window.number}/complete/", follow=True)
    assert "✓ </span>Completed" in text(response)


def test_cancel_with_a_reason(clock, schedule, page_as, incident_manager):
    window = schedule()
    confirm = text(page_as(incident_manager).get(f"/maintenance/{window.number}/cancel/"))
    assert 'name="reason"' in confirm and "METHOD:CANCEL" in confirm
    response = page_as(incident_manager).post(
        f"/maintenance/{window.number}/cancel/", {"reason": "Vendor delay"}, follow=True
    )
    html = text(response)
    assert "cancelled: the tenants get the cancel invite" in html
    assert "Vendor delay" in html  # in the audit trail on the timeline
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.CANCELLED


def test_get_on_an_action_is_not_allowed(clock, schedule, page_as, incident_manager):
    window = schedule()
    assert page_as(incident_manager).get(f"/maintenance/{window.number}/start/").status_code == 405


# --- Reschedule and scope -----------------------------------------------------------------------


def test_reschedule_form(clock, schedule, page_as, incident_manager):
    window = schedule()
    client = page_as(incident_manager)
    page = text(client.get(f"/maintenance/{window.number}/reschedule/"))
    assert 'value="2030-06-08T08:00"' in page
    bad = client.post(
        f"/maintenance/{window.number}/reschedule/",
        {"title": "Moved", "impact": "Same", "starts_at": "2030-06-09T08:00",
         "ends_at": "2030-06-09T07:00", "owner": incident_manager.pk},
    )
    assert bad.status_code == 200
    assert "The end must be after the start." in text(bad) and 'value="Moved"' in text(bad)
    good = client.post(
        f"/maintenance/{window.number}/reschedule/",
        {"title": "Moved", "impact": "Same", "starts_at": "2030-06-09T08:00",
         "ends_at": "2030-06-09T09:00", "owner": incident_manager.pk},
    )
    assert good.status_code == 302
    window.refresh_from_db()
    assert (window.title, window.sequence, window.starts_at) == (
        "Moved", 1, START + 24 * HOUR
    )


def test_a_started_window_can_only_move_its_end_in_the_form(
    clock, schedule, page_as, incident_manager
):
    window = schedule()
    clock.move_to(START)
    client = page_as(incident_manager)
    client.post(f"/maintenance/{window.number}/start/")
    page = text(client.get(f"/maintenance/{window.number}/reschedule/"))
    assert re.search(r'name="starts_at"[^>]*disabled', page)
    response = client.post(
        f"/maintenance/{window.number}/reschedule/",
        {"title": window.title, "impact": window.impact, "starts_at": "2030-06-01T00:00",
         "ends_at": "2030-06-08T12:00", "owner": incident_manager.pk},
    )
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.starts_at, window.ends_at) == (START, START + 4 * HOUR)


def test_scope_form(clock, schedule, page_as, incident_manager):
    window = schedule()
    client = page_as(incident_manager)
    page = text(client.get(f"/maintenance/{window.number}/scope/"))
    assert '<option value="pop-ashburn" selected>' in page
    response = client.post(
        f"/maintenance/{window.number}/scope/",
        {"scope": "tenants", "organizations": "acme", "areas": ["call_routing"]},
    )
    assert response.status_code == 302
    rows = window.tenants.filter(removed_at__isnull=True)
    assert [r.organization.slug for r in rows] == ["acme"]
    html = text(client.get(f"/maintenance/{window.number}/"))
    assert "No longer concerned (sent a cancel invite): Globex Insurance" in html


# --- Home and demo ------------------------------------------------------------------------------


def test_the_owner_sees_a_window_starting_soon_on_the_home_worklist(
    clock, schedule, page_as, incident_manager, engineer
):
    window = schedule(starts_at=START - 96 * HOUR, ends_at=START - 95 * HOUR)
    html = text(page_as(incident_manager).get("/home/"))
    assert f"{window.number} starts soon" in html
    assert f"{window.number}" not in text(page_as(engineer).get("/home/"))


def test_demo_maintenance_is_idempotent(clock, deployed, platform_admin):
    upcoming, past = load_demo_maintenance(platform_admin)
    assert upcoming.status == MaintenanceStatus.SCHEDULED
    assert upcoming.failure_target == "us-west-a"
    assert past.status == MaintenanceStatus.COMPLETED and past.completed_at < past.created_at
    assert past.tenants.count() == 2  # both reach the Ashburn PoP
    assert load_demo_maintenance(platform_admin) == [upcoming, past]
    assert Maintenance.objects.count() == 2
