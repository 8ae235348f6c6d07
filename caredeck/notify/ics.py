"""Calendar invites (.ics) for time windows: maintenance, change windows, ceremonies.

A window keeps one UID for its whole life; every reschedule raises SEQUENCE, so calendar
programs update the event in place instead of adding a second one. A cancelled window is
sent with METHOD:CANCEL and STATUS:CANCELLED under the same UID.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import icalendar
from django.conf import settings
from django.utils import timezone

PRODID = "-//CareDeck//Customer operations//EN"


@dataclass(frozen=True)
class CalendarWindow:
    uid: str  # stable, e.g. "MNT-000042@caredeck.example"
    sequence: int  # 0 at first announcement, +1 on each reschedule
    summary: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    description: str = ""
    url: str = ""
    location: str = ""
    organizer_email: str = ""
    attendees: list[str] = field(default_factory=list)
    cancelled: bool = False


def uid_for(public_number: str) -> str:
    host = settings.BASE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return f"{public_number}@{host or 'caredeck'}"


def build_ics(window: CalendarWindow) -> bytes:
    if window.starts_at.tzinfo is None or window.ends_at.tzinfo is None:
        raise ValueError("Calendar windows need aware datetimes.")
    if window.ends_at <= window.starts_at:
        raise ValueError("A window must end after it starts.")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if window.cancelled else "REQUEST")
    event = icalendar.Event()
    event.add("uid", window.uid)
    event.add("sequence", window.sequence)
    event.add("dtstamp", timezone.now().astimezone(datetime.UTC))
    event.add("dtstart", window.starts_at.astimezone(datetime.UTC))
    event.add("dtend", window.ends_at.astimezone(datetime.UTC))
    event.add("summary", window.summary)
    event.add("status", "CANCELLED" if window.cancelled else "CONFIRMED")
    if window.description:
        event.add("description", window.description)
    if window.url:
        event.add("url", window.url)
    if window.location:
        event.add("location", window.location)
    if window.organizer_email:
        event.add("organizer", f"mailto:{window.organizer_email}")
    for email in window.attendees:
        event.add(
            "attendee", f"mailto:{email}",
            parameters={"ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"},
        )
    calendar.add_component(event)
    return calendar.to_ical()
