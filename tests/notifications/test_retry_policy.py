"""The webhook retry schedule and status classification (services/notifications/retry.py)."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

import pytest

from services.notifications.retry import (
    DEFAULT_POLICY,
    RetryPolicy,
    disables_endpoint,
    is_retryable,
    is_success,
    parse_retry_after,
)

HOUR = 3600.0


def test_default_schedule_spans_about_a_day() -> None:
    lower, upper = DEFAULT_POLICY.schedule_bounds()
    assert 20 * HOUR <= lower <= upper <= 30 * HOUR
    assert upper <= DEFAULT_POLICY.total_window_seconds


def test_default_schedule_starts_fast_and_caps_at_four_hours() -> None:
    policy = DEFAULT_POLICY
    assert policy.nominal_delay(1) == 5.0
    assert policy.nominal_delay(2) == 10.0
    assert policy.nominal_delay(12) == 5.0 * 2**11
    assert policy.nominal_delay(13) == 4 * HOUR
    assert policy.nominal_delay(10_000) == 4 * HOUR  # no overflow
    assert all(policy.delay_range(n)[1] <= policy.max_delay_seconds for n in range(1, 200))


def test_sampled_schedules_stay_within_bounds() -> None:
    policy = DEFAULT_POLICY
    lower, upper = policy.schedule_bounds()
    rng = random.Random(20250314)
    spans = []
    for _ in range(500):
        delays = policy.sample_schedule(rng)
        assert 0 < len(delays) < policy.max_attempts
        assert max(delays) <= policy.max_delay_seconds
        spans.append(sum(delays))
    assert lower <= min(spans)
    assert max(spans) <= upper
    # Jitter really varies the total, rather than every run being identical.
    assert max(spans) - min(spans) > 10 * 60


@pytest.mark.parametrize("jitter", ["equal", "full", "none"])
def test_jitter_stays_within_bounds(jitter: str) -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, jitter=jitter)  # type: ignore[arg-type]
    rng = random.Random(7)
    for attempt in range(1, 20):
        nominal = policy.nominal_delay(attempt)
        low, high = policy.delay_range(attempt)
        assert high == nominal
        assert low == {"equal": nominal / 2, "full": 0.0, "none": nominal}[jitter]
        draws = [policy.next_delay(attempt, rng, elapsed_seconds=0.0) for _ in range(300)]
        assert all(d is not None and low <= d <= high for d in draws)
        if jitter != "none":  # spread across the range, not stuck at one value
            values = [d for d in draws if d is not None]
            width = high - low
            assert min(values) < low + width * 0.1
            assert max(values) > high - width * 0.1


def test_same_seed_same_schedule() -> None:
    first = DEFAULT_POLICY.sample_schedule(random.Random(42))
    assert first == DEFAULT_POLICY.sample_schedule(random.Random(42))
    assert first != DEFAULT_POLICY.sample_schedule(random.Random(43))


def test_gives_up_after_the_window() -> None:
    policy = DEFAULT_POLICY
    rng = random.Random(1)
    assert policy.next_delay(14, rng, elapsed_seconds=10 * HOUR) is not None
    # Even the shortest next wait (2 h) would end past 24 h: give up.
    assert policy.next_delay(14, rng, elapsed_seconds=22.5 * HOUR) is None
    assert policy.next_delay(3, rng, elapsed_seconds=24 * HOUR + 1) is None
    # A wait that still fits is allowed, up to the last second of the window.
    fixed = dataclasses.replace(policy, jitter="none")
    assert fixed.next_delay(14, elapsed_seconds=20 * HOUR) == 4 * HOUR
    assert fixed.next_delay(14, elapsed_seconds=20 * HOUR + 1) is None


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, jitter="none")
    assert policy.next_delay(1, elapsed_seconds=0) == 5.0
    assert policy.next_delay(2, elapsed_seconds=5) == 10.0
    assert policy.next_delay(3, elapsed_seconds=15) is None
    assert policy.sample_schedule() == [5.0, 10.0]
    assert policy.schedule_bounds() == (15.0, 15.0)


def test_without_elapsed_the_window_is_never_overrun() -> None:
    # Without elapsed_seconds the policy assumes every earlier wait was at its longest.
    policy = DEFAULT_POLICY
    rng = random.Random(3)
    total_max = 0.0
    attempt = 1
    while policy.next_delay(attempt, rng) is not None:
        total_max += policy.delay_range(attempt)[1]
        attempt += 1
    assert total_max <= policy.total_window_seconds
    assert attempt > 10


def test_retry_after_lengthens_but_never_beyond_max_delay() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, jitter="none")
    assert policy.next_delay(1, elapsed_seconds=0, retry_after_seconds=120) == 120
    assert policy.next_delay(1, elapsed_seconds=0, retry_after_seconds=1) == 5.0
    assert policy.next_delay(1, elapsed_seconds=0, retry_after_seconds=10 * HOUR) == 4 * HOUR


def test_tiny_policy_for_tests() -> None:
    policy = RetryPolicy.for_tests()
    assert policy.base_seconds == 0.05
    delays = policy.sample_schedule(random.Random(0))
    assert len(delays) == policy.max_attempts - 1
    assert sum(delays) < 2.0
    assert all(d <= policy.max_delay_seconds for d in delays)
    assert RetryPolicy(base_seconds=0.05, max_delay_seconds=0.05, max_attempts=3).next_delay(
        1, random.Random(0), elapsed_seconds=0
    ) == pytest.approx(0.05, rel=0.5)


def test_invalid_policies_are_refused() -> None:
    for bad in (
        {"base_seconds": 0},
        {"factor": 0.5},
        {"max_delay_seconds": 1.0},
        {"max_attempts": 0},
        {"total_window_seconds": 0},
        {"jitter": "random"},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DEFAULT_POLICY.next_delay(0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_POLICY.max_attempts = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("status", "success", "retryable"),
    [
        (200, True, False),
        (201, True, False),
        (204, True, False),
        (299, True, False),
        (301, False, True),  # redirects are not followed: a failed attempt
        (307, False, True),
        (308, False, True),
        (400, False, True),
        (401, False, True),
        (404, False, True),
        (408, False, True),
        (410, False, False),  # Gone: stop and disable the endpoint
        (422, False, True),
        (429, False, True),
        (500, False, True),
        (502, False, True),
        (503, False, True),
        (504, False, True),
        (None, False, True),  # connection error or timeout
        (199, False, True),
        (300, False, True),
    ],
)
def test_status_classification(status: int | None, success: bool, retryable: bool) -> None:
    assert is_success(status) is success
    assert is_retryable(status) is retryable
    assert disables_endpoint(status) is (status == 410)


def test_parse_retry_after() -> None:
    now = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Fri, 14 Mar 2025 09:05:00 GMT", now) == 300.0
    assert parse_retry_after("Fri, 14 Mar 2025 08:00:00 GMT", now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
