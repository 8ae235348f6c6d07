"""Calendar invites: the .ics builder, parsed back with icalendar."""

from __future__ import annotations

import dataclasses
import datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine

from caredeck.notify.ics import PRODID, CalendarWindow, build_ics, uid_for

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime.datetime(2030, 6, 1, 22, 0, tzinfo=BERLIN)  # 20:00 UTC (summer time)


def _window(**changes) -> CalendarWindow:
    window = CalendarWindow(
        uid="MNT-000042@care.example.com", sequence=0,
        summary="Cloud CX database maintenance", starts_at=START,
        ends_at=START + datetime.timedelta(hours=2),
        description="Calls may drop for up to 5 minutes.\nNo action needed.",
        url="https://care.example.com/maintenance/MNT-000042/", location="Frankfurt DC",
        organizer_email="noc@provider.test", attendees=["a@acme.test", "b@acme.test"],
    )
    return dataclasses.replace(window, **changes)


def _parse(data: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(data)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_request_has_every_field():
    with time_machine.travel(datetime.datetime(2030, 5, 1, 8, 0, tzinfo=datetime.UTC), tick=False):
        data = build_ics(_window())
    assert isinstance(data, bytes)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded lines
    calendar, event = _parse(data)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "MNT-000042@care.example.com"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Cloud CX database maintenance"
    assert str(event["DESCRIPTION"]) == "Calls may drop for up to 5 minutes.\nNo action needed."
    assert str(event["URL"]) == "https://care.example.com/maintenance/MNT-000042/"
    assert str(event["LOCATION"]) == "Frankfurt DC"
    assert str(event["ORGANIZER"]) == "mailto:noc@provider.test"
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:a@acme.test", "mailto:b@acme.test"]
    assert {a.params["ROLE"] for a in attendees} == {"REQ-PARTICIPANT"}
    # Times in UTC, the same instants as the window's.
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert event.decoded("DTEND") == START + datetime.timedelta(hours=2)
    assert b"DTSTART:20300601T200000Z" in data
    assert event.decoded("DTSTAMP") == datetime.datetime(2030, 5, 1, 8, 0, tzinfo=datetime.UTC)


def test_reschedule_keeps_the_uid_and_raises_the_sequence():
    first = _parse(build_ics(_window()))[1]
    later = START + datetime.timedelta(days=1)
    hour = datetime.timedelta(hours=1)
    moved = _parse(build_ics(_window(sequence=1, starts_at=later, ends_at=later + 3 * hour)))[1]
    again = _parse(build_ics(_window(sequence=2, starts_at=later, ends_at=later + hour)))[1]
    assert str(first["UID"]) == str(moved["UID"]) == str(again["UID"])
    assert [int(e["SEQUENCE"]) for e in (first, moved, again)] == [0, 1, 2]
    assert moved.decoded("DTSTART") == later
    assert again.decoded("DTEND") == later + datetime.timedelta(hours=1)


def test_cancel_uses_the_same_uid():
    calendar, event = _parse(build_ics(_window(sequence=3, cancelled=True)))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == "MNT-000042@care.example.com"
    assert int(event["SEQUENCE"]) == 3


def test_minimal_window_has_no_empty_properties():
    data = build_ics(_window(description="", url="", location="", organizer_email="", attendees=[]))
    _, event = _parse(data)
    for name in ("DESCRIPTION", "URL", "LOCATION", "ORGANIZER", "ATTENDEE"):
        assert name not in event


def test_non_ascii_text_round_trips():
    _, event = _parse(build_ics(_window(summary="Wartung: Datenbank in Köln, 2 h; bitte beachten")))
    assert str(event["SUMMARY"]) == "Wartung: Datenbank in Köln, 2 h; bitte beachten"


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_naive_datetimes_are_refused(field):
    naive = getattr(_window(), field).replace(tzinfo=None)
    with pytest.raises(ValueError, match="aware"):
        build_ics(_window(**{field: naive}))


@pytest.mark.parametrize("hours", [0, -1])
def test_a_window_must_end_after_it_starts(hours):
    with pytest.raises(ValueError, match="end after"):
        build_ics(_window(ends_at=START + datetime.timedelta(hours=hours)))


def test_uid_for_is_stable_and_uses_the_site_host(settings):
    settings.BASE_URL = "https://care.example.com:8443/sub"
    assert uid_for("MNT-000042") == uid_for("MNT-000042") == "MNT-000042@care.example.com"
    assert uid_for("MNT-000043") != uid_for("MNT-000042")
