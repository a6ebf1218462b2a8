"""The lifecycle read-model rules as pure functions: case order, councils, deadline alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.reporting.readmodel import (
    DeadlineAlerts,
    DeliveryFact,
    council_is_current,
    deadline_state,
    transition_applies,
)
from shared.calendar import default_calendar

pytestmark = pytest.mark.timeout(90)
CAL = default_calendar()
T1 = datetime(2026, 3, 2, 10, tzinfo=UTC)
T2 = datetime(2026, 3, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored_at", "stored", "at", "incoming", "applies"),
    [
        (None, None, T1, "rapid_review_in_progress", True),  # first transition seen
        (T1, "rapid_review_in_progress", T2, "closed", True),
        (T2, "closed", T1, "rapid_review_in_progress", False),  # older step replayed
        (T2, "closed", T2, "closed", False),  # the same step again
        (T1, "rapid_review_in_progress", T1, "closed", True),  # same moment: later state wins
        (T1, "closed", T1, "rapid_review_in_progress", False),
    ],
)
def test_a_case_never_moves_backwards(
    stored_at: datetime | None, stored: str | None, at: datetime, incoming: str, applies: bool
) -> None:
    assert transition_applies(stored_at, stored, at, incoming) is applies


def test_a_council_is_covered_until_it_leaves_and_again_once_it_rejoins() -> None:
    assert council_is_current(None, None)
    assert not council_is_current(None, date(2026, 4, 1))
    assert not council_is_current(date(2026, 3, 1), date(2026, 4, 1))
    assert council_is_current(date(2026, 5, 1), date(2026, 4, 1))


def test_alerts_count_only_for_the_current_due_date_and_met_wins() -> None:
    due, today = date(2026, 6, 10), date(2026, 6, 8)
    approaching = DeadlineAlerts(approaching_due_on=due)
    state = deadline_state("SIN-5WD", due, [], today, CAL, approaching)
    assert (state.approaching, state.overdue, state.met) == (True, False, False)
    # An alert for the due date before a correction does not count for the new one.
    moved = deadline_state("SIN-5WD", date(2026, 6, 20), [], today, CAL, approaching)
    assert moved.approaching is False
    # A breach reported for the current date is overdue even before our "today" says so.
    breached = deadline_state("SIN-5WD", due, [], today, CAL, DeadlineAlerts(breached_due_on=due))
    assert (breached.breached, breached.overdue, breached.approaching) == (True, True, False)
    # Marked met: neither approaching nor overdue, with its on-time verdict.
    done = DeadlineAlerts(breached_due_on=due, met_on=date(2026, 6, 11), met_on_time=False)
    state = deadline_state("SIN-5WD", due, [], date(2026, 6, 12), CAL, done)
    assert (state.met, state.overdue, state.breached, state.met_on_time) == (
        True,
        False,
        False,
        False,
    )


def test_met_by_delivery_has_an_on_time_verdict() -> None:
    due = date(2026, 6, 10)
    facts = [DeliveryFact("SIN-5WD", "delivered", datetime(2026, 6, 9, 12, tzinfo=UTC))]
    state = deadline_state("SIN-5WD", due, facts, date(2026, 6, 12), CAL)
    assert (state.met, state.met_on, state.met_on_time) == (True, date(2026, 6, 9), True)
