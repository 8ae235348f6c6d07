"""The business-hours calendar of support groups (SLAs) and experts (shifts): weekends,
public holidays, DST, night shifts, and minutes_between as the inverse of add_minutes."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from caredeck.core.calendar import BusinessHours

UTC = datetime.UTC
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)

NEW_YORK_OFFICE = BusinessHours(tz="America/New_York", country="US",
                                start=datetime.time(8), end=datetime.time(18))
LONDON_OFFICE = BusinessHours(tz="Europe/London", country="GB",
                              start=datetime.time(9), end=datetime.time(17))
NIGHT_SHIFT = BusinessHours(tz="UTC", country="US", start=datetime.time(22),
                            end=datetime.time(6))


def ny(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=NY)


def london(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=LONDON)


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


# --- add_minutes ------------------------------------------------------------------------


def test_minutes_left_on_friday_run_on_into_monday_morning():
    friday_4pm = ny(2026, 11, 20, 16, 0)
    due = NEW_YORK_OFFICE.add_minutes(friday_4pm, 240)
    assert due == ny(2026, 11, 23, 10, 0)  # 2 h on Friday, 2 h on Monday
    assert due.tzinfo == UTC  # the calendar answers in UTC
    assert NEW_YORK_OFFICE.minutes_between(friday_4pm, due) == 240


def test_within_one_working_day_minutes_are_plain_minutes():
    tuesday_9am = ny(2026, 11, 17, 9, 0)
    assert NEW_YORK_OFFICE.add_minutes(tuesday_9am, 90) == ny(2026, 11, 17, 10, 30)


def test_minutes_started_at_the_weekend_begin_on_monday_opening():
    saturday = ny(2026, 11, 21, 12, 0)
    assert NEW_YORK_OFFICE.add_minutes(saturday, 60) == ny(2026, 11, 23, 9, 0)
    assert NEW_YORK_OFFICE.minutes_between(saturday, ny(2026, 11, 23, 9, 0)) == 60


def test_us_thanksgiving_is_not_a_working_day():
    wednesday_5pm = ny(2026, 11, 25, 17, 0)
    # 1 h on Wednesday; Thursday Nov 26 is Thanksgiving; 1 h on Friday.
    assert NEW_YORK_OFFICE.add_minutes(wednesday_5pm, 120) == ny(2026, 11, 27, 9, 0)
    assert not NEW_YORK_OFFICE.is_open(ny(2026, 11, 26, 12, 0))
    assert NEW_YORK_OFFICE.next_opening(ny(2026, 11, 26, 12, 0)) == ny(2026, 11, 27, 8, 0)
    # A calendar of a country without Thanksgiving works that day.
    uk_hours_in_ny = BusinessHours(tz="America/New_York", country="GB",
                                   start=datetime.time(8), end=datetime.time(18))
    assert uk_hours_in_ny.add_minutes(wednesday_5pm, 120) == ny(2026, 11, 26, 9, 0)


def test_uk_christmas_and_boxing_day_observed_are_skipped():
    christmas_eve_4pm = london(2026, 12, 24, 16, 0)
    # Fri 25 Christmas, the weekend, Mon 28 Boxing Day (observed: the 26th is a Saturday).
    assert LONDON_OFFICE.add_minutes(christmas_eve_4pm, 120) == london(2026, 12, 29, 10, 0)
    assert LONDON_OFFICE.minutes_between(christmas_eve_4pm, london(2026, 12, 29, 10, 0)) == 120
    assert not LONDON_OFFICE.is_open(london(2026, 12, 28, 11, 0))


def test_the_holiday_calendar_country_code_is_case_insensitive():
    lower = BusinessHours(tz="Europe/London", country="gb", start=datetime.time(9),
                          end=datetime.time(17))
    assert not lower.is_open(london(2026, 12, 28, 11, 0))


def test_an_unknown_country_counts_weekends_only():
    nowhere = BusinessHours(tz="UTC", country="XX")
    assert nowhere.is_open(utc(2026, 12, 25, 12, 0))
    assert not nowhere.is_open(utc(2026, 12, 26, 12, 0))


def test_working_minutes_across_the_end_of_daylight_saving_time():
    # New York leaves EDT (UTC-4) for EST (UTC-5) on Sunday 2026-11-01.
    friday_5pm = ny(2026, 10, 30, 17, 0)
    assert friday_5pm.astimezone(UTC) == utc(2026, 10, 30, 21, 0)
    due = NEW_YORK_OFFICE.add_minutes(friday_5pm, 120)
    assert due == ny(2026, 11, 2, 9, 0)
    assert due == utc(2026, 11, 2, 14, 0)  # 9:00 EST, no hour gained or lost
    assert NEW_YORK_OFFICE.minutes_between(friday_5pm, due) == 120


def test_a_night_shift_across_the_dst_change_is_nine_real_hours():
    night = BusinessHours(tz="America/New_York", start=datetime.time(22), end=datetime.time(6),
                          workdays=EVERY_DAY)
    opens = ny(2026, 10, 31, 22, 0)  # EDT; closes at 06:00 EST, 9 real hours later
    closes = ny(2026, 11, 1, 6, 0)
    assert night.minutes_between(opens, closes) == 9 * 60
    assert night.add_minutes(opens, 9 * 60) == closes
    # Inputs in a local zone: the arithmetic stays in real (UTC) time.
    assert night.minutes_between(ny(2026, 10, 31, 23, 0), ny(2026, 11, 1, 5, 0)) == 7 * 60
    assert night.add_minutes(ny(2026, 10, 31, 23, 0), 7 * 60) == ny(2026, 11, 1, 5, 0)


def test_around_the_clock_counts_real_minutes_across_dst():
    always = BusinessHours.around_the_clock()
    start = ny(2026, 10, 31, 22, 0)
    assert always.add_minutes(start, 8 * 60) == utc(2026, 11, 1, 10, 0)  # 05:00 EST
    assert always.minutes_between(start, ny(2026, 11, 1, 6, 0)) == 9 * 60
    assert always.is_open(utc(2026, 12, 25, 3, 0))
    assert always.next_opening(start) == start


def test_a_night_shift_ends_the_next_morning():
    monday_11pm = utc(2026, 11, 16, 23, 0)
    # 7 h to Tuesday 06:00, then 1 h of Tuesday's shift from 22:00.
    assert NIGHT_SHIFT.add_minutes(monday_11pm, 480) == utc(2026, 11, 17, 23, 0)
    assert NIGHT_SHIFT.minutes_between(monday_11pm, utc(2026, 11, 17, 23, 0)) == 480
    assert NIGHT_SHIFT.is_open(utc(2026, 11, 17, 2, 0))  # Monday's shift
    assert NIGHT_SHIFT.is_open(utc(2026, 11, 21, 5, 59))  # Friday's shift, Saturday morning
    assert not NIGHT_SHIFT.is_open(utc(2026, 11, 22, 2, 0))  # Saturday: no shift
    assert not NIGHT_SHIFT.is_open(utc(2026, 11, 16, 2, 0))  # Sunday night: no shift
    assert not NIGHT_SHIFT.is_open(utc(2026, 11, 17, 12, 0))
    assert NIGHT_SHIFT.next_opening(utc(2026, 11, 22, 2, 0)) == utc(2026, 11, 23, 22, 0)


def test_minutes_between_is_negative_when_the_end_comes_first():
    a, b = ny(2026, 11, 17, 9, 0), ny(2026, 11, 17, 11, 30)
    assert NEW_YORK_OFFICE.minutes_between(b, a) == -150
    assert NEW_YORK_OFFICE.minutes_between(a, a) == 0


def test_minutes_outside_working_hours_do_not_count():
    assert NEW_YORK_OFFICE.minutes_between(ny(2026, 11, 17, 19, 0), ny(2026, 11, 18, 7, 0)) == 0
    assert NEW_YORK_OFFICE.minutes_between(ny(2026, 11, 17, 7, 0), ny(2026, 11, 18, 9, 0)) == (
        10 * 60 + 60)


# --- is_open / next_opening -------------------------------------------------------------


def test_is_open_and_next_opening_at_the_edges_of_the_day():
    assert not NEW_YORK_OFFICE.is_open(ny(2026, 11, 17, 7, 59))
    assert NEW_YORK_OFFICE.next_opening(ny(2026, 11, 17, 7, 59)) == ny(2026, 11, 17, 8, 0)
    assert NEW_YORK_OFFICE.is_open(ny(2026, 11, 17, 8, 0))
    assert NEW_YORK_OFFICE.next_opening(ny(2026, 11, 17, 12, 0)) == ny(2026, 11, 17, 12, 0)
    assert NEW_YORK_OFFICE.is_open(ny(2026, 11, 17, 17, 59))
    assert not NEW_YORK_OFFICE.is_open(ny(2026, 11, 17, 18, 0))  # the end is exclusive
    assert NEW_YORK_OFFICE.next_opening(ny(2026, 11, 17, 18, 0)) == ny(2026, 11, 18, 8, 0)
    # Friday evening: the next opening is Monday morning.
    assert NEW_YORK_OFFICE.next_opening(ny(2026, 11, 20, 18, 30)) == ny(2026, 11, 23, 8, 0)


def test_custom_workdays():
    sunday_to_thursday = BusinessHours(tz="UTC", workdays=(6, 0, 1, 2, 3))
    assert sunday_to_thursday.is_open(utc(2026, 11, 22, 9, 0))  # Sunday
    assert not sunday_to_thursday.is_open(utc(2026, 11, 20, 9, 0))  # Friday


def test_a_calendar_without_workdays_never_opens():
    never = BusinessHours(tz="UTC", workdays=())
    assert not never.is_open(utc(2026, 11, 17, 9, 0))
    assert never.next_opening(utc(2026, 11, 17, 9, 0)) is None


# --- minutes_between inverts add_minutes --------------------------------------------------

CALENDARS = [NEW_YORK_OFFICE, LONDON_OFFICE, NIGHT_SHIFT,
             BusinessHours(tz="Australia/Sydney", country="AU", start=datetime.time(8),
                           end=datetime.time(17)),
             BusinessHours(tz="America/New_York", start=datetime.time(22),
                           end=datetime.time(6), workdays=EVERY_DAY),
             BusinessHours.around_the_clock()]


@settings(max_examples=300, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    start=st.datetimes(min_value=datetime.datetime(2025, 1, 1),
                       max_value=datetime.datetime(2028, 12, 31), timezones=st.just(UTC)),
    minutes=st.floats(min_value=0, max_value=20000, allow_nan=False),
)
def test_minutes_between_is_the_inverse_of_add_minutes(calendar, start, minutes):
    end = calendar.add_minutes(start, minutes)
    assert end >= start
    assert abs(calendar.minutes_between(start, end) - minutes) < 1 / 60


@settings(max_examples=200, deadline=None)
@given(
    calendar=st.sampled_from(CALENDARS),
    start=st.datetimes(min_value=datetime.datetime(2025, 1, 1),
                       max_value=datetime.datetime(2028, 12, 31), timezones=st.just(UTC)),
    minutes=st.integers(min_value=1, max_value=20000),
)
def test_the_instant_add_minutes_lands_on_is_working_time(calendar, start, minutes):
    end = calendar.add_minutes(start, minutes)
    # Just before the due instant the calendar is open: no minute was counted while shut.
    assert calendar.is_open(end - datetime.timedelta(seconds=1))
