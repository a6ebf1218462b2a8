"""The read-model rules as pure functions: status precedence, on time, deadline states."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.reporting.readmodel import (
    DeliveryFact,
    advance,
    deadline_state,
    is_open,
    london_date,
    on_time,
)
from shared.calendar import default_calendar

CAL = default_calendar()


@pytest.mark.parametrize(
    ("current", "incoming", "after"),
    [
        ("queued", "retrying", "retrying"),
        ("retrying", "delivered", "delivered"),
        ("retrying", "abandoned", "abandoned"),
        ("abandoned", "delivered", "delivered"),  # delivered late is still proof of delivery
        ("delivered", "retrying", "delivered"),
        ("delivered", "queued", "delivered"),
        ("delivered", "abandoned", "delivered"),
        ("retrying", "queued", "retrying"),
        ("abandoned", "retrying", "abandoned"),
    ],
)
def test_a_delivery_status_never_moves_backwards(current: str, incoming: str, after: str) -> None:
    assert advance(current, incoming) == after


def test_dates_are_taken_in_england() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in British Summer Time.
    assert london_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)
    assert london_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 12, 31)


def test_on_time() -> None:
    due = date(2026, 12, 29)
    late = datetime(2026, 12, 30, 9, tzinfo=UTC)
    assert on_time(True, late, due, date(2027, 1, 5)) is True  # the producer's verdict wins
    assert on_time(None, datetime(2026, 12, 29, 16, tzinfo=UTC), due, date(2027, 1, 5)) is True
    assert on_time(None, late, due, date(2027, 1, 5)) is False
    assert on_time(None, None, due, date(2026, 12, 29)) is None  # can still make it today
    assert on_time(None, None, due, date(2026, 12, 30)) is False
    assert on_time(None, late, None, date(2027, 1, 5)) is None


def test_working_days_left_and_overdue_around_christmas() -> None:
    # domain.md s8: aware on Friday 18 December 2026 -> due Tuesday 29 December 2026.
    due = CAL.add_working_days(date(2026, 12, 18), 5)
    assert due == date(2026, 12, 29)
    state = deadline_state("SIN-5WD", due, [], date(2026, 12, 18), CAL)
    assert (state.days_left, state.overdue, state.met) == (5, False, False)
    assert deadline_state("SIN-5WD", due, [], date(2026, 12, 24), CAL).days_left == 1
    assert deadline_state("SIN-5WD", due, [], date(2026, 12, 25), CAL).days_left == 1
    on_the_day = deadline_state("SIN-5WD", due, [], due, CAL)
    assert (on_the_day.days_left, on_the_day.overdue) == (0, False)
    after = deadline_state("SIN-5WD", due, [], date(2026, 12, 30), CAL)
    assert (after.days_left, after.overdue) == (-1, True)


def test_a_deadline_is_met_when_all_its_notifications_were_delivered() -> None:
    due, today = date(2026, 12, 29), date(2027, 1, 4)
    sent = datetime(2026, 12, 22, 10, tzinfo=UTC)
    panel = DeliveryFact("SIN-5WD", "delivered", sent)
    partners = DeliveryFact("SIN-5WD", "retrying", None)
    other_rule = DeliveryFact("LAC-DEATH", "queued", None)
    half = deadline_state("SIN-5WD", due, [panel, partners, other_rule], today, CAL)
    assert (half.met, half.overdue) == (False, True)
    met = deadline_state("SIN-5WD", due, [panel, other_rule], today, CAL)
    assert (met.met, met.met_on, met.overdue) == (True, date(2026, 12, 22), False)
    # No notification for the rule (e.g. the rapid review): never met by deliveries.
    assert deadline_state("RR-15WD", due, [panel], today, CAL).met is False


def test_a_case_is_open_until_closed() -> None:
    assert is_open("notified")
    assert not is_open("closed")
