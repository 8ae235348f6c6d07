"""The business calendar: business days per a tenant's support time zone and country.

Due times such as "RCA within 5 business days of resolution" count weekdays that are not
public holidays of the contract's country (the `holidays` package), in the contract's
time zone, and keep the time of day of the start.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays


@lru_cache(maxsize=64)
def _holidays_of(country: str, year: int):
    try:
        return holidays.country_holidays(country, years=[year])
    except NotImplementedError:  # a country the package does not know: weekends only
        return {}


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
