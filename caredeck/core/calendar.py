"""The business calendar: business days per a tenant's support time zone and country.

Due times such as "RCA within 5 business days of resolution" count weekdays that are not
public holidays of the contract's country (the `holidays` package), in the contract's
time zone, and keep the time of day of the start.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays


@lru_cache(maxsize=64)
def _holidays_of(country: str, year: int):
    try:
        return holidays.country_holidays((country or "").upper(), years=[year])
    except NotImplementedError:  # a country the package does not know: weekends only
        return {}


def _utc(instant: datetime.datetime) -> datetime.datetime:
    """Arithmetic on aware datetimes of one zone is wall-clock arithmetic (an hour off
    across a DST change): the calendar works in UTC whatever zone the caller used."""
    return instant.astimezone(datetime.UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_business_day(day: datetime.date, *, country: str = "US") -> bool:
    return day.weekday() < 5 and day not in _holidays_of(country, day.year)


def add_business_days(
    start: datetime.datetime, days: int, *, country: str = "US", tz: str = "UTC"
) -> datetime.datetime:
    """`start` plus `days` business days, at the same local time of day."""
    local = start.astimezone(_zone(tz))
    day = local.date()
    remaining = days
    while remaining > 0:
        day += datetime.timedelta(days=1)
        if is_business_day(day, country=country):
            remaining -= 1
    result = datetime.datetime.combine(day, local.timetz().replace(tzinfo=None))
    return result.replace(tzinfo=_zone(tz)).astimezone(datetime.UTC)


def contract_business_days(start: datetime.datetime, days: int, contract) -> datetime.datetime:
    """Business days in a tenant's calendar (UTC / US when it has no contract)."""
    if contract is None:
        return add_business_days(start, days)
    return add_business_days(
        start, days, country=contract.support_country, tz=contract.support_timezone
    )


@dataclass(frozen=True)
class BusinessHours:
    """Working hours in a time zone, on workdays that are not public holidays of a
    country: the calendar of a support group's SLAs and of an expert's shift.

    A window runs from `start` to `end` local time on each workday; an `end` at or before
    `start` is a night shift that ends the next day. `always_open` is 24x7 (the calendar
    of critical cases). Times go in and come out as aware datetimes.
    """

    tz: str = "UTC"
    country: str = "US"
    start: datetime.time = datetime.time(8, 0)
    end: datetime.time = datetime.time(18, 0)
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    always_open: bool = False

    @classmethod
    def around_the_clock(cls) -> BusinessHours:
        return cls(always_open=True)

    def _window(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The working window that starts on local `day`, in UTC, or None on a day off."""
        if day.weekday() not in self.workdays or day in _holidays_of(self.country, day.year):
            return None
        zone = _zone(self.tz)
        opens = datetime.datetime.combine(day, self.start, tzinfo=zone)
        end_day = day if self.end > self.start else day + datetime.timedelta(days=1)
        closes = datetime.datetime.combine(end_day, self.end, tzinfo=zone)
        return opens.astimezone(datetime.UTC), closes.astimezone(datetime.UTC)

    def _windows_from(self, instant: datetime.datetime):
        """Working windows that end after `instant`, in order (a night shift that began
        the day before comes first)."""
        day = instant.astimezone(_zone(self.tz)).date() - datetime.timedelta(days=1)
        for _ in range(MAX_CALENDAR_DAYS):
            window = self._window(day)
            if window is not None and window[1] > instant:
                yield window
            day += datetime.timedelta(days=1)

    def is_open(self, instant: datetime.datetime) -> bool:
        if self.always_open:
            return True
        instant = _utc(instant)
        window = next(self._windows_from(instant), None)
        return window is not None and window[0] <= instant

    def next_opening(self, instant: datetime.datetime) -> datetime.datetime | None:
        """`instant` itself when open, else when the next window opens."""
        instant = _utc(instant)
        if self.always_open:
            return instant
        window = next(self._windows_from(instant), None)
        return None if window is None else max(window[0], instant)

    def add_minutes(self, start: datetime.datetime, minutes: float) -> datetime.datetime:
        """The instant when `minutes` working minutes have passed after `start`."""
        remaining = datetime.timedelta(minutes=max(minutes, 0))
        start = _utc(start)
        if self.always_open:
            return start + remaining
        for opens, closes in self._windows_from(start):
            begin = max(opens, start)
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise ValueError("No working hours in this calendar.")

    def minutes_between(self, start: datetime.datetime, end: datetime.datetime) -> float:
        """Working minutes from `start` to `end` (negative when `end` comes first)."""
        start, end = _utc(start), _utc(end)
        if end < start:
            return -self.minutes_between(end, start)
        if self.always_open:
            return (end - start).total_seconds() / 60
        total = datetime.timedelta()
        for opens, closes in self._windows_from(start):
            if opens >= end:
                break
            total += min(closes, end) - max(opens, start)
        return total.total_seconds() / 60


# A calendar with no working day in this many days is a configuration error.
MAX_CALENDAR_DAYS = 3660
