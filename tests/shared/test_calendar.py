"""Tests for shared.calendar (domain.md s8). Every expected date below was checked against the
``holidays`` package's England and Wales list and a day-by-day count."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import holidays
import pytest

from shared.calendar import WorkingDayCalendar, default_calendar

CAL = WorkingDayCalendar()


# -- is_working_day -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 12, 18), True),  # Friday
        (date(2026, 12, 19), False),  # Saturday
        (date(2026, 12, 20), False),  # Sunday
        (date(2026, 12, 25), False),  # Christmas Day, Friday
        (date(2026, 12, 28), False),  # Boxing Day substitute (26th is a Saturday)
        (date(2026, 12, 29), True),
        (date(2027, 1, 1), False),  # New Year's Day, Friday
        (date(2027, 12, 27), False),  # Christmas substitute (25th is a Saturday)
        (date(2027, 12, 28), False),  # Boxing Day substitute (26th is a Sunday)
        (date(2028, 1, 3), False),  # New Year substitute (1 Jan 2028 is a Saturday)
        (date(2026, 4, 3), False),  # Good Friday 2026
        (date(2026, 4, 6), False),  # Easter Monday 2026
        (date(2026, 4, 7), True),
        (date(2026, 5, 4), False),  # early May bank holiday
        (date(2026, 5, 25), False),  # spring bank holiday
        (date(2026, 8, 31), False),  # summer bank holiday
        (date(2022, 9, 19), False),  # one-off: state funeral of Elizabeth II
        (date(2023, 5, 8), False),  # one-off: coronation of Charles III
        (date(2022, 6, 3), False),  # one-off: platinum jubilee
        (date(2022, 6, 2), False),  # spring bank holiday moved that year
        (date(2022, 5, 30), True),  # ... so the usual last Monday of May was a working day
        (date(2028, 2, 29), True),  # leap day, a Tuesday
    ],
)
def test_is_working_day(d: date, expected: bool) -> None:
    assert CAL.is_working_day(d) is expected


def test_is_holiday_only_for_weekday_holidays() -> None:
    assert CAL.is_holiday(date(2026, 12, 25))
    assert CAL.is_holiday(date(2026, 12, 28))
    assert not CAL.is_holiday(date(2026, 12, 26))  # Saturday: not a working day anyway
    assert not CAL.is_holiday(date(2026, 12, 29))


def test_holidays_in_2026() -> None:
    assert CAL.holidays_in(2026) == frozenset(
        {
            date(2026, 1, 1),
            date(2026, 4, 3),
            date(2026, 4, 6),
            date(2026, 5, 4),
            date(2026, 5, 25),
            date(2026, 8, 31),
            date(2026, 12, 25),
            date(2026, 12, 28),
        }
    )


# -- add_working_days -----------------------------------------------------------------------


def test_domain_worked_example_aware_friday_18_december_2026() -> None:
    # domain.md s8: 25 Dec is a Friday, Boxing Day a Saturday, Monday 28 Dec the substitute.
    assert CAL.add_working_days(date(2026, 12, 18), 5) == date(2026, 12, 29)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # start day never counts, even when it is a working day
        (date(2026, 6, 10), 1, date(2026, 6, 11)),  # Wed -> Thu
        # Friday start
        (date(2026, 6, 12), 1, date(2026, 6, 15)),  # Fri -> Mon
        (date(2026, 6, 12), 5, date(2026, 6, 19)),  # Fri -> next Fri
        # Saturday and Sunday starts
        (date(2026, 6, 6), 1, date(2026, 6, 8)),  # Sat -> Mon
        (date(2026, 6, 6), 5, date(2026, 6, 12)),  # Sat -> Fri
        (date(2026, 6, 7), 5, date(2026, 6, 12)),  # Sun -> Fri
        # start on a holiday
        (date(2026, 12, 25), 1, date(2026, 12, 29)),
        # Easter 2026: Good Friday 3 April, Easter Monday 6 April
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Thu -> Tue
        (date(2026, 4, 1), 5, date(2026, 4, 10)),  # Wed: 2, 7, 8, 9, 10
        (date(2026, 4, 4), 1, date(2026, 4, 7)),  # Easter Saturday
        (date(2026, 4, 3), 5, date(2026, 4, 13)),  # from Good Friday: 7, 8, 9, 10, 13
        # Christmas into the New Year (1 Jan 2027 is a Friday)
        (date(2026, 12, 24), 5, date(2027, 1, 5)),  # 29, 30, 31, 4, 5
        (date(2026, 12, 31), 1, date(2027, 1, 4)),
        (date(2026, 12, 23), 1, date(2026, 12, 24)),
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        # 2027: Christmas and Boxing Day on a weekend, substitutes 27 and 28 Dec,
        # then 1 Jan 2028 a Saturday with substitute Monday 3 Jan
        (date(2027, 12, 24), 1, date(2027, 12, 29)),
        (date(2027, 12, 24), 3, date(2027, 12, 31)),
        (date(2027, 12, 24), 4, date(2028, 1, 4)),
        (date(2027, 12, 31), 1, date(2028, 1, 4)),
        # leap day 2028
        (date(2028, 2, 28), 1, date(2028, 2, 29)),
        (date(2028, 2, 25), 3, date(2028, 3, 1)),  # Fri: Mon 28, Tue 29, Wed 1 March
        # one-off proclaimed days the library knows
        (date(2022, 9, 16), 1, date(2022, 9, 20)),  # over the state funeral
        (date(2023, 5, 5), 1, date(2023, 5, 9)),  # over the coronation
        # rapid review over Christmas: 15 working days from Friday 18 Dec 2026
        (date(2026, 12, 18), 15, date(2027, 1, 13)),
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert CAL.add_working_days(start, n) == expected


@pytest.mark.parametrize("n", [0, -1, -15])
def test_add_working_days_rejects_n_below_one(n: int) -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        CAL.add_working_days(date(2026, 6, 10), n)


def test_rejects_datetime_and_non_int() -> None:
    with pytest.raises(TypeError):
        CAL.add_working_days(datetime(2026, 6, 10, 9, 0), 1)
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2026, 6, 10, 9, 0))
    with pytest.raises(TypeError):
        CAL.add_working_days(date(2026, 6, 10), 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CAL.add_working_days(date(2026, 6, 10), True)


# -- subtract_working_days ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "n", "expected"),
    [
        (date(2026, 6, 19), 7, date(2026, 6, 10)),  # Fri -> Wed of the week before
        (date(2027, 1, 5), 5, date(2026, 12, 24)),  # mirror of 24 Dec 2026 + 5
        (date(2026, 4, 7), 1, date(2026, 4, 2)),  # back over Easter 2026
        (date(2026, 6, 8), 1, date(2026, 6, 5)),  # Mon -> Fri
        (date(2026, 6, 6), 1, date(2026, 6, 5)),  # Sat -> Fri
    ],
)
def test_subtract_working_days(end: date, n: int, expected: date) -> None:
    assert CAL.subtract_working_days(end, n) == expected


def test_subtract_working_days_rejects_n_below_one() -> None:
    with pytest.raises(ValueError):
        CAL.subtract_working_days(date(2026, 6, 10), 0)


# -- working_days_between -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (date(2026, 12, 18), date(2026, 12, 29), 5),
        (date(2026, 12, 18), date(2026, 12, 18), 0),
        (date(2026, 12, 29), date(2026, 12, 18), -5),
        (date(2026, 12, 18), date(2026, 12, 28), 4),  # due 29th: one left on the 28th
        (date(2026, 12, 24), date(2026, 12, 28), 0),  # only holidays and a weekend
        (date(2026, 12, 19), date(2026, 12, 20), 0),  # Sat -> Sun
        (date(2026, 6, 5), date(2026, 6, 8), 1),  # Fri -> Mon
        (date(2026, 1, 2), date(2026, 12, 31), 252),  # 261 weekdays - 8 holidays - Fri 2 Jan
        (date(2025, 12, 31), date(2026, 12, 31), 253),  # 261 weekdays - 8 holidays
        (date(2026, 12, 18), date(2027, 1, 13), 15),
    ],
)
def test_working_days_between(a: date, b: date, expected: int) -> None:
    assert CAL.working_days_between(a, b) == expected


def test_days_left_counts_down_to_zero_on_the_due_day() -> None:
    due = date(2026, 12, 29)
    assert [
        CAL.working_days_between(d, due)
        for d in (
            date(2026, 12, 18),
            date(2026, 12, 21),
            date(2026, 12, 24),
            date(2026, 12, 25),
            date(2026, 12, 29),
            date(2026, 12, 30),
        )
    ] == [5, 4, 1, 1, 0, -1]


# -- agreement with an independent day-by-day reference ------------------------------------


def _reference_add(start: date, n: int, hols: set[date]) -> date:
    d = start
    while n:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in hols:
            n -= 1
    return d


def test_matches_reference_2018_to_2030() -> None:
    hols = set(holidays.UnitedKingdom(subdiv="ENG", years=range(2017, 2032)))
    start = date(2018, 1, 1)
    end = date(2030, 12, 31)
    d = start
    checked = 0
    while d <= end:
        for n in (1, 5, 7, 15):
            expected = _reference_add(d, n, hols)
            assert CAL.add_working_days(d, n) == expected, (d, n)
            assert CAL.subtract_working_days(expected, n) <= d
            assert CAL.working_days_between(d, expected) == n
            checked += 1
        assert CAL.is_working_day(d) is (d.weekday() < 5 and d not in hols)
        d += timedelta(days=1)
    assert checked == 4 * ((end - start).days + 1)


# -- operator-added and removed holidays ----------------------------------------------------


def test_extra_holiday_shifts_deadline() -> None:
    cal = WorkingDayCalendar(extra_holidays=[date(2026, 12, 22)])
    assert not cal.is_working_day(date(2026, 12, 22))
    assert cal.add_working_days(date(2026, 12, 18), 5) == date(2026, 12, 30)
    assert cal.working_days_between(date(2026, 12, 18), date(2026, 12, 30)) == 5
    # the default calendar is untouched
    assert CAL.add_working_days(date(2026, 12, 18), 5) == date(2026, 12, 29)


def test_extra_holiday_in_a_future_year_and_on_a_weekend() -> None:
    cal = WorkingDayCalendar(extra_holidays=[date(2030, 6, 3), date(2030, 6, 1)])  # Mon, Sat
    assert cal.add_working_days(date(2030, 5, 31), 1) == date(2030, 6, 4)
    assert cal.holidays_in(2030) >= {date(2030, 6, 3)}
    assert date(2030, 6, 1) not in cal.holidays_in(2030)


def test_removed_holiday_becomes_a_working_day() -> None:
    cal = WorkingDayCalendar(removed_holidays=[date(2026, 12, 28)])
    assert cal.is_working_day(date(2026, 12, 28))
    assert cal.add_working_days(date(2026, 12, 18), 5) == date(2026, 12, 28)


def test_same_date_added_and_removed_is_rejected() -> None:
    with pytest.raises(ValueError, match="2026-12-22"):
        WorkingDayCalendar(
            extra_holidays=[date(2026, 12, 22)], removed_holidays=[date(2026, 12, 22)]
        )


def test_default_calendar_is_cached_by_its_holidays() -> None:
    assert default_calendar() is default_calendar()
    assert default_calendar(()) is default_calendar([])
    a = default_calendar([date(2026, 12, 22), date(2026, 12, 23)])
    b = default_calendar((date(2026, 12, 23), date(2026, 12, 22)))
    assert a is b
    assert a is not default_calendar()
    assert a.extra_holidays == frozenset({date(2026, 12, 22), date(2026, 12, 23)})
    assert a.add_working_days(date(2026, 12, 18), 5) == date(2026, 12, 31)


# -- calendar arithmetic --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 1, 15), 6, date(2026, 7, 15)),
        (date(2026, 7, 31), 6, date(2027, 1, 31)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2026, 10, 31), 1, date(2026, 11, 30)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 5, 15), 0, date(2026, 5, 15)),
        (date(2026, 1, 10), -13, date(2024, 12, 10)),
    ],
)
def test_add_calendar_months(start: date, months: int, expected: date) -> None:
    assert CAL.add_calendar_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 12, 28), 7, date(2027, 1, 4)),
        (date(2028, 2, 25), 7, date(2028, 3, 3)),  # across 29 Feb 2028
        (date(2027, 2, 25), 7, date(2027, 3, 4)),
        (date(2026, 6, 10), 0, date(2026, 6, 10)),
        (date(2026, 6, 10), -7, date(2026, 6, 3)),
    ],
)
def test_add_calendar_days(start: date, days: int, expected: date) -> None:
    assert CAL.add_calendar_days(start, days) == expected


# -- speed ----------------------------------------------------------------------------------


def test_add_working_days_is_fast() -> None:
    cal = WorkingDayCalendar()
    cal.add_working_days(date(2026, 12, 18), 15)  # warm the 2026 and 2027 holiday sets
    started = time.perf_counter()
    for _ in range(2000):
        assert cal.add_working_days(date(2026, 12, 18), 15) == date(2027, 1, 13)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"2000 calls took {elapsed:.3f}s"
