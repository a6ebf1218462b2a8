"""Working days and calendar arithmetic for statutory deadlines.

A working day is Monday to Friday except the bank holidays of England and Wales (domain.md
section 8): New Year's Day, Good Friday, Easter Monday, the early May, spring and summer bank
holidays, Christmas Day and Boxing Day, the substitute days when one of them falls on a weekend,
and one-off days proclaimed by the Crown. The bank holidays come from the maintained
``holidays`` package (``holidays.UnitedKingdom(subdiv="ENG")``); an operator can add a newly
proclaimed day (``extra_holidays``), or withdraw one the library lists wrongly
(``removed_holidays``), without a release.

Counting convention: "within N working days of day D" means the N-th working day *after* D.
D itself never counts, even when D is a working day. Example from domain.md s8: aware on Friday
18 December 2026 -> the 5th working day is Tuesday 29 December 2026 (25 December is a Friday,
Boxing Day is a Saturday, so Monday 28 December is the substitute holiday).

This module is pure: no I/O, no settings. Callers pass dates (``datetime.date``, never
``datetime.datetime``: turn a timestamp into a local date in Europe/London first).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

__all__ = ["WorkingDayCalendar", "default_calendar"]

_SATURDAY = 5  # date.weekday(): Monday == 0 ... Sunday == 6


def _check_date(value: object, name: str) -> date:
    # datetime is a subclass of date; mixing the two breaks comparisons and returns datetimes.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date (not a datetime), got {value!r}")
    return value


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return value


def _weekdays_through(d: date) -> int:
    """Number of Mondays-to-Fridays in [0001-01-01, d]; 0001-01-01 (ordinal 1) is a Monday."""
    weeks, rest = divmod(d.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


class WorkingDayCalendar:
    """England and Wales working days, with operator-maintained additions and removals.

    Holiday sets are computed lazily, one calendar year at a time, and cached on the instance,
    so every check after the first in a year is a set lookup. Instances are immutable in
    behaviour and safe to share between threads (a race only computes the same year twice).
    """

    __slots__ = ("_extra", "_removed", "_weekday_holidays_by_year")

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        removed_holidays: Iterable[date] = (),
    ) -> None:
        self._extra: frozenset[date] = frozenset(
            _check_date(d, "extra_holidays item") for d in extra_holidays
        )
        self._removed: frozenset[date] = frozenset(
            _check_date(d, "removed_holidays item") for d in removed_holidays
        )
        overlap = self._extra & self._removed
        if overlap:
            listed = ", ".join(d.isoformat() for d in sorted(overlap))
            raise ValueError(f"dates both added and removed as holidays: {listed}")
        self._weekday_holidays_by_year: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        return (
            f"WorkingDayCalendar(extra_holidays={sorted(self._extra)!r}, "
            f"removed_holidays={sorted(self._removed)!r})"
        )

    @property
    def extra_holidays(self) -> frozenset[date]:
        return self._extra

    @property
    def removed_holidays(self) -> frozenset[date]:
        return self._removed

    # -- holiday data ---------------------------------------------------------------------

    def _weekday_holidays(self, year: int) -> frozenset[date]:
        """Holidays in ``year`` that fall Monday to Friday (weekends are never working days)."""
        cached = self._weekday_holidays_by_year.get(year)
        if cached is not None:
            return cached
        # Ask for the neighbouring years too, in case a substitute day crosses a year boundary.
        years = [y for y in (year - 1, year, year + 1) if 1 <= y <= 9999]
        library = holidays.UnitedKingdom(subdiv="ENG", years=years)
        days = {d for d in library if d.year == year}
        days |= {d for d in self._extra if d.year == year}
        days -= self._removed
        result = frozenset(d for d in days if d.weekday() < _SATURDAY)
        self._weekday_holidays_by_year[year] = result
        return result

    def is_holiday(self, d: date) -> bool:
        """True if ``d`` is a bank holiday (or operator-added holiday) on a weekday."""
        _check_date(d, "d")
        return d in self._weekday_holidays(d.year)

    def holidays_in(self, year: int) -> frozenset[date]:
        """The weekday holidays of ``year`` (the days that stop a weekday being a working day)."""
        return self._weekday_holidays(_check_int(year, "year"))

    # -- working days -----------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday and not an England and Wales bank holiday (domain.md s8)."""
        _check_date(d, "d")
        return self._is_working_day(d)

    def _is_working_day(self, d: date) -> bool:
        return d.weekday() < _SATURDAY and d not in self._weekday_holidays(d.year)

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` ("within n working days of start").

        ``start`` itself never counts, even if it is a working day; it may be a weekend or a
        holiday. ``n`` must be at least 1.
        """
        _check_date(start, "start")
        if _check_int(n, "n") < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        one_day = timedelta(days=1)
        d = start
        remaining = n
        while remaining:
            d += one_day
            if self._is_working_day(d):
                remaining -= 1
        return d

    def subtract_working_days(self, end: date, n: int) -> date:
        """The ``n``-th working day before ``end`` ("at least n working days before end").

        The mirror of :meth:`add_working_days`: ``end`` itself never counts. ``n >= 1``.
        """
        _check_date(end, "end")
        if _check_int(n, "n") < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        one_day = timedelta(days=1)
        d = end
        remaining = n
        while remaining:
            d -= one_day
            if self._is_working_day(d):
                remaining -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days ``d`` with ``a < d <= b``.

        0 when ``a == b``, negative when ``b < a`` (minus the count for ``b < d <= a``), so
        ``working_days_between(today, due_on)`` is the working days left (0 on the due day,
        negative once overdue). For n >= 1,
        ``working_days_between(s, add_working_days(s, n)) == n``.
        """
        _check_date(a, "a")
        _check_date(b, "b")
        if b < a:
            return -self.working_days_between(b, a)
        count = _weekdays_through(b) - _weekdays_through(a)
        for year in range(a.year, b.year + 1):
            count -= sum(1 for h in self._weekday_holidays(year) if a < h <= b)
        return count

    # -- calendar arithmetic ---------------------------------------------------------------

    @staticmethod
    def add_calendar_days(start: date, days: int) -> date:
        """``start`` plus ``days`` calendar days (``days`` may be 0 or negative)."""
        _check_date(start, "start")
        return start + timedelta(days=_check_int(days, "days"))

    @staticmethod
    def add_calendar_months(start: date, months: int) -> date:
        """Same day of the month ``months`` later, clamped to the month's last day.

        31 August 2027 + 6 months = 29 February 2028; 31 August 2026 + 6 = 28 February 2027.
        ``months`` may be 0 or negative.
        """
        _check_date(start, "start")
        index = start.year * 12 + (start.month - 1) + _check_int(months, "months")
        year, month0 = divmod(index, 12)
        month = month0 + 1
        if not 1 <= year <= 9999:
            raise OverflowError(f"{start} + {months} months is out of range")
        last_day = _stdlib_calendar.monthrange(year, month)[1]
        return date(year, month, min(start.day, last_day))


@lru_cache(maxsize=64)
def _cached_calendar(extra: frozenset[date]) -> WorkingDayCalendar:
    return WorkingDayCalendar(extra_holidays=extra)


def default_calendar(extra_holidays: Iterable[date] = ()) -> WorkingDayCalendar:
    """A shared calendar for these extra holidays (cached: the same set gives the same object,
    whatever the order or container they are passed in)."""
    return _cached_calendar(
        frozenset(_check_date(d, "extra_holidays item") for d in extra_holidays)
    )
