"""Retry schedule and response classification for webhook deliveries.

Standard Webhooks (https://www.standardwebhooks.com/, "Deliverability and reliability")
recommends retrying with exponential backoff plus random jitter until delivery succeeds or is
judged impossible. Statutory notifications must not be retried forever without anyone knowing,
so the default policy keeps trying for one day and then gives up, at which point the caller
marks the delivery failed and escalates to people by other means.

Default schedule (equal jitter: each wait is uniformly drawn from the upper half of its
nominal value; nominal = 5 s x 2^(n-1), capped at 4 h)::

    retry after attempt   1     2     3    4    5    6    7    8     9    10    11    12   13+
    nominal wait          5s    10s   20s  40s  80s  160s 5.3m 10.7m 21m  43m   85m   2.8h 4h

Waits stop once the next one would end beyond ``total_window_seconds`` after the first attempt,
so the last attempt falls between 20 h and 24 h after the first (see
:meth:`RetryPolicy.schedule_bounds`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = [
    "DEFAULT_POLICY",
    "JitterMode",
    "RetryPolicy",
    "disables_endpoint",
    "is_retryable",
    "is_success",
    "parse_retry_after",
]

JitterMode = Literal["full", "equal", "none"]

_DEFAULT_RNG = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded by an attempt count and a total time window.

    Attempts are numbered from 1 (the first delivery attempt). ``next_delay(n)`` is the wait
    after attempt ``n`` failed and before attempt ``n + 1``; its nominal value is
    ``min(max_delay_seconds, base_seconds * factor ** (n - 1))``, and ``jitter`` draws the
    actual wait from ``[0, nominal]`` ("full"), ``[nominal / 2, nominal]`` ("equal") or uses
    the nominal value ("none"). No wait ever exceeds ``max_delay_seconds``.
    """

    base_seconds: float = 5.0
    factor: float = 2.0
    max_delay_seconds: float = 4 * 3600.0
    max_attempts: int = 30
    total_window_seconds: float = 24 * 3600.0
    jitter: JitterMode = "equal"

    def __post_init__(self) -> None:
        if not self.base_seconds > 0:
            raise ValueError("base_seconds must be positive")
        if not self.factor >= 1:
            raise ValueError("factor must be at least 1")
        if not self.max_delay_seconds >= self.base_seconds:
            raise ValueError("max_delay_seconds must be at least base_seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not self.total_window_seconds > 0:
            raise ValueError("total_window_seconds must be positive")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError("jitter must be 'full', 'equal' or 'none'")

    @classmethod
    def for_tests(
        cls,
        max_attempts: int = 5,
        base_seconds: float = 0.05,
        max_delay_seconds: float = 0.4,
        total_window_seconds: float = 30.0,
        jitter: JitterMode = "equal",
    ) -> RetryPolicy:
        """A policy with sub-second waits, for tests that exercise real retries."""
        return cls(
            base_seconds=base_seconds,
            max_delay_seconds=max_delay_seconds,
            max_attempts=max_attempts,
            total_window_seconds=total_window_seconds,
            jitter=jitter,
        )

    def nominal_delay(self, attempt_number: int) -> float:
        """The un-jittered wait after failed attempt ``attempt_number`` (ignores the limits)."""
        _check_attempt(attempt_number)
        exponent = attempt_number - 1
        if self.factor == 1 or exponent == 0:
            return min(self.base_seconds, self.max_delay_seconds)
        # Compare in log space so huge attempt numbers cannot overflow a float.
        if exponent * math.log(self.factor) >= math.log(self.max_delay_seconds / self.base_seconds):
            return self.max_delay_seconds
        return min(self.max_delay_seconds, self.base_seconds * self.factor**exponent)

    def delay_range(self, attempt_number: int) -> tuple[float, float]:
        """The smallest and largest jittered wait after failed attempt ``attempt_number``."""
        nominal = self.nominal_delay(attempt_number)
        if self.jitter == "full":
            return 0.0, nominal
        if self.jitter == "equal":
            return nominal / 2, nominal
        return nominal, nominal

    def next_delay(
        self,
        attempt_number: int,
        rng: random.Random | None = None,
        *,
        elapsed_seconds: float | None = None,
        retry_after_seconds: float | None = None,
    ) -> float | None:
        """Seconds to wait after failed attempt ``attempt_number``, or ``None`` to give up.

        Gives up when ``attempt_number >= max_attempts`` or when the wait would end more than
        ``total_window_seconds`` after the first attempt. Pass ``elapsed_seconds`` (time since
        the first attempt started, including the attempts' own durations) so that the window
        is measured for real; without it the window is checked against the longest that the
        earlier waits could have been, which never overruns the window but may give up a few
        hours early. ``retry_after_seconds`` (from a ``Retry-After`` response header, see
        :func:`parse_retry_after`) lengthens the wait up to ``max_delay_seconds``, never beyond.
        """
        _check_attempt(attempt_number)
        if attempt_number >= self.max_attempts:
            return None
        low, high = self.delay_range(attempt_number)
        generator = rng if rng is not None else _DEFAULT_RNG
        delay = low if low == high else generator.uniform(low, high)
        if retry_after_seconds is not None and retry_after_seconds > delay:
            delay = min(retry_after_seconds, self.max_delay_seconds)
        if elapsed_seconds is None:
            elapsed_seconds = sum(self.delay_range(n)[1] for n in range(1, attempt_number))
        if elapsed_seconds + delay > self.total_window_seconds:
            return None
        return delay

    def schedule_bounds(self) -> tuple[float, float]:
        """Bounds on the time from the first attempt to the last (the sum of the waits).

        Holds for any jitter draw and any ``Retry-After``, when callers pass
        ``elapsed_seconds``; the attempts' own durations come on top. Upper bound: the window
        (or all waits at their longest, if shorter). Lower bound: all waits at their shortest
        if the attempt limit is what stops; otherwise the last attempt is within one maximum
        wait of the end of the window, since the next wait would have crossed it.
        """
        window = self.total_window_seconds
        shortest = 0.0  # earliest possible time of attempt k, measured from attempt 1
        longest = 0.0  # latest possible time of attempt k
        lower = math.inf
        for k in range(1, self.max_attempts):
            low, high = self.delay_range(k)
            if longest + high > window:  # the window may stop the retries after attempt k
                lower = min(lower, max(shortest, window - high))
            if shortest + low > window:  # attempt k + 1 can never happen
                break
            shortest += low
            longest = min(longest + high, window)
        else:  # every attempt max_attempts allows may happen; the last at `shortest` or later
            lower = min(lower, shortest)
        return lower, longest

    def sample_schedule(self, rng: random.Random | None = None) -> list[float]:
        """The waits of one complete run in which every attempt fails (attempts take no time)."""
        delays: list[float] = []
        elapsed = 0.0
        attempt = 1
        while (delay := self.next_delay(attempt, rng, elapsed_seconds=elapsed)) is not None:
            delays.append(delay)
            elapsed += delay
            attempt += 1
        return delays


DEFAULT_POLICY = RetryPolicy()


def _check_attempt(attempt_number: int) -> None:
    if attempt_number < 1:
        raise ValueError("attempt numbers start at 1")


def is_success(status_code: int | None) -> bool:
    """Delivered: a 2xx answer. Anything else, 3xx included, is a failed attempt.

    Redirects are never followed (Standard Webhooks: following them loads both sides for
    nothing; the endpoint's URL should be corrected instead), so a 3xx delivered nothing.
    ``None`` (no answer: connection error or timeout) is a failure too.
    """
    return status_code is not None and 200 <= status_code <= 299


def is_retryable(status_code: int | None) -> bool:
    """Whether a failed attempt should be tried again (subject to the :class:`RetryPolicy`).

    * ``None`` (connection refused or reset, DNS failure, timeout), 408, 429 and 5xx: retry,
      these are transient by nature.
    * 3xx and the other 4xx (400, 401, 403, 404, 422, ...): retry as well. Standard Webhooks
      treats every non-2xx as a failed attempt to be retried, and for a statutory notification
      a receiver's 4xx is usually a fixable fault on their side (a deployment in progress, a
      secret being rotated, a route moved) rather than a verdict on the message; giving up on
      the first 4xx would lose the notification silently. The retry window bounds the cost.
    * 410 Gone: do not retry. The spec reserves it for "this endpoint no longer wants
      webhooks": the sender should disable the endpoint (see :func:`disables_endpoint`).
    * 2xx: not a failure, nothing to retry.
    """
    if is_success(status_code):
        return False
    return not disables_endpoint(status_code)


def disables_endpoint(status_code: int | None) -> bool:
    """410 Gone: the receiver asks to stop; disable the endpoint and tell a person."""
    return status_code == 410


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from ``now`` given by a ``Retry-After`` header (delta-seconds or HTTP-date).

    ``None`` when absent or unparseable; never negative.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
