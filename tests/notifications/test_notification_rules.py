"""The pure rules of a notification: its stable id, its rule, what is sent, what an attempt
outcome means (services/notifications/domain.py)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifications.domain import (
    AttemptResult,
    decide,
    encode_body,
    notification_id,
    on_time,
    rule_for,
    webhook_body,
)
from services.notifications.retry import RetryPolicy
from tests.notifications.notifications_support import incident

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    base_seconds=5, max_delay_seconds=60, max_attempts=4, total_window_seconds=3600, jitter="none"
)


def result(
    status: int | None,
    *,
    after: float = 1.0,
    error: str | None = None,
    retry_after: float | None = None,
) -> AttemptResult:
    return AttemptResult(
        started_at=T0,
        finished_at=T0 + timedelta(seconds=after),
        status_code=status,
        error=error,
        retry_after_seconds=retry_after,
    )


def test_the_id_is_stable_per_case_rule_and_recipient() -> None:
    a = notification_id("case-1", "SIN-5WD", "panel")
    assert a == notification_id("case-1", "SIN-5WD", "panel")
    assert (
        len(
            {
                a,
                notification_id("case-1", "SIN-5WD", "ofsted"),
                notification_id("case-1", "LAC-DEATH", "panel"),
                notification_id("case-2", "SIN-5WD", "panel"),
            }
        )
        == 4
    )
    assert "." not in a  # a valid webhook-id


def test_a_recipient_is_told_under_the_earliest_rule_that_lists_it() -> None:
    payload = incident(["panel", "ofsted"], due_on=date(2026, 3, 9))
    assert rule_for(payload, "panel") == ("SIN-5WD", date(2026, 3, 9))
    assert rule_for(payload, "ofsted") == ("SIN-5WD", date(2026, 3, 9))
    assert rule_for(payload, "yjb") == ("SIN-5WD", date(2026, 3, 9))  # the notification rule


def test_the_body_is_an_allow_list_of_the_incident() -> None:
    payload = incident(["panel"])
    body = webhook_body(
        payload,
        notification="n-1",
        recipient="panel",
        rule_id="SIN-5WD",
        due_on=date(2026, 3, 9),
        created_at=T0,
    )
    assert body["type"] == "incident.notified" and body["timestamp"] == T0.isoformat()
    assert set(body["data"]) == {"notification_id", "recipient", "rule_id", "due_on", "case"}
    assert "notify" not in body["data"]["case"] and "deadlines" not in body["data"]["case"]
    assert body["data"]["case"]["children"][0]["reference"] == "child-ref-1"
    assert encode_body(body) == encode_body(body)  # the same bytes on every attempt


@pytest.mark.parametrize(
    ("delivered_at", "expected"),
    [
        (datetime(2026, 7, 10, 22, 59, tzinfo=UTC), True),  # 23:59 BST on the due day
        (datetime(2026, 7, 10, 23, 1, tzinfo=UTC), False),  # 00:01 BST the day after
        (datetime(2026, 1, 10, 23, 59, tzinfo=UTC), True),  # GMT in winter
    ],
)
def test_on_time_means_by_the_end_of_the_due_day_in_england(
    delivered_at: datetime, expected: bool
) -> None:
    due = delivered_at.date() if delivered_at.month == 1 else date(2026, 7, 10)
    assert on_time(delivered_at, due) is expected
    assert on_time(delivered_at, None) is None


def test_what_an_attempt_outcome_means() -> None:
    assert (
        decide(result(204), attempt_number=1, first_attempt_at=T0, policy=POLICY).status
        == "delivered"
    )
    gone = decide(result(410), attempt_number=1, first_attempt_at=T0, policy=POLICY)
    assert gone.status == "abandoned" and "410" in (gone.error or "")
    moved = decide(result(308), attempt_number=1, first_attempt_at=T0, policy=POLICY)
    assert moved.status == "pending" and moved.error == "HTTP 308: redirect not followed"
    assert moved.next_attempt_at == T0 + timedelta(seconds=1 + 5)
    timeout = decide(
        result(None, error="no answer"), attempt_number=2, first_attempt_at=T0, policy=POLICY
    )
    assert timeout.status == "pending" and timeout.error == "no answer"
    assert timeout.next_attempt_at == T0 + timedelta(seconds=1 + 10)
    last = decide(result(500), attempt_number=4, first_attempt_at=T0, policy=POLICY)
    assert last.status == "abandoned" and last.next_attempt_at is None
    slow_down = decide(
        result(429, retry_after=30),
        attempt_number=1,
        first_attempt_at=T0,
        policy=POLICY,
        rng=random.Random(1),
    )
    assert slow_down.next_attempt_at == T0 + timedelta(seconds=1 + 30)
    late = decide(result(500, after=3599), attempt_number=1, first_attempt_at=T0, policy=POLICY)
    assert late.status == "abandoned"  # the window, measured from the first attempt, is over
