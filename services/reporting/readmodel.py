"""The read-model rules, as pure functions: no I/O, no database, no settings.

- A notification's delivery status only moves forward: ``queued`` < ``retrying`` <
  ``abandoned`` < ``delivered``. Events of one partnership arrive in order within a topic, but
  a replay, a re-seeded broker or a late duplicate can bring an older status after a newer one;
  it must not turn a delivered notification back into a retrying one. ``delivered`` outranks
  ``abandoned``: a delivery is proof the duty was met, even if it came after an escalation.
- Working days left are counted with the England and Wales calendar (domain.md s8): 0 on the
  due day, negative once overdue. "Today" is the date in Europe/London, where the duties fall.
- A deadline is met when ``deadline.met`` (or the statutory step that meets it, such as
  ``rapid_review.submitted`` for RR-15WD) said so, or when the case has notifications for its
  rule and all were delivered; only an unmet deadline can be overdue: past its due date, or
  breached by the reviews service's scheduler for its current due date.
- A case status only moves forward: a ``case.transitioned`` applies when its moment ``at`` is
  later than the stored one, or equal with a later state in the lifecycle (``CASE_STATUS_ORDER``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from shared.calendar import WorkingDayCalendar

LONDON = ZoneInfo("Europe/London")

QUEUED, RETRYING, ABANDONED, DELIVERED = "queued", "retrying", "abandoned", "delivered"
STATUS_RANK: dict[str, int] = {QUEUED: 0, RETRYING: 1, ABANDONED: 2, DELIVERED: 3}
DELIVERY_STATUSES: tuple[str, ...] = tuple(STATUS_RANK)

NOTIFIED = "notified"  # the reviews service's first case status
CLOSED_CASE_STATUSES: frozenset[str] = frozenset({"closed", "withdrawn"})
# The reviews service's lifecycle (services/reviews/models.py CaseStatus), in the order a case
# goes through it; published and publication_withheld are alternatives at the same step.
CASE_STATUS_ORDER: dict[str, int] = {
    NOTIFIED: 0,
    "rapid_review_in_progress": 1,
    "rapid_review_submitted": 2,
    "decided": 3,
    "panel_responded": 4,
    "local_review_commissioned": 5,
    "local_review_in_progress": 6,
    "final_report_shared": 7,
    "published": 8,
    "publication_withheld": 8,
    "closed": 9,
    "withdrawn": 9,
}


def advance(current: str, incoming: str) -> str:
    """The status after an event saying ``incoming``: never a step backwards."""
    return incoming if STATUS_RANK[incoming] > STATUS_RANK.get(current, -1) else current


def is_open(case_status: str) -> bool:
    return case_status not in CLOSED_CASE_STATUSES


def transition_applies(
    current_at: datetime | None, current_status: str | None, at: datetime, status: str
) -> bool:
    """Whether a transition to ``status`` at ``at`` is newer than what is stored.

    The reviews service never dates a step before the previous one, but two steps may share a
    moment; the lifecycle order breaks that tie (an unknown state ranks with the first one). The
    same transition again is not newer, so a replay changes nothing.
    """
    if current_at is None or current_status is None:
        return True
    incoming = (at, CASE_STATUS_ORDER.get(status, 0))
    stored = (current_at, CASE_STATUS_ORDER.get(current_status, 0))
    return incoming > stored


def council_is_current(joined_on: date | None, left_on: date | None) -> bool:
    """A council is covered until it leaves, or again once it rejoins after leaving."""
    return left_on is None or (joined_on is not None and joined_on > left_on)


def ended(ends_on: date | None, today: date) -> bool:
    """A record with an end date is over the day after it."""
    return ends_on is not None and ends_on < today


def london_date(moment: datetime) -> date:
    """The calendar date in England of a timezone-aware moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LONDON).date()


def london_today() -> date:
    return london_date(datetime.now(UTC))


def on_time(
    reported: bool | None, delivered_at: datetime | None, due_on: date | None, today: date
) -> bool | None:
    """Whether a notification reached its recipient by its due date.

    The notifications service's own verdict wins when it gave one. Otherwise: delivered on or
    before the due date (in England); ``False`` once the due date has passed undelivered;
    ``None`` while it can still be on time, or when no due date is known.
    """
    if reported is not None:
        return reported
    if due_on is None:
        return None
    if delivered_at is not None:
        return london_date(delivered_at) <= due_on
    return False if today > due_on else None


@dataclass(frozen=True)
class DeliveryFact:
    """What the deadline rules need to know about one notification."""

    rule_id: str | None
    status: str
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeadlineState:
    days_left: int
    overdue: bool
    met: bool
    met_on: date | None
    approaching: bool = False
    breached: bool = False
    met_on_time: bool | None = None


@dataclass(frozen=True)
class DeadlineAlerts:
    """What the deadline events said about one deadline (all optional)."""

    approaching_due_on: date | None = None
    breached_due_on: date | None = None
    met_on: date | None = None
    met_on_time: bool | None = None


def deadline_state(
    rule_id: str,
    due_on: date,
    notifications: Iterable[DeliveryFact],
    today: date,
    calendar: WorkingDayCalendar,
    alerts: DeadlineAlerts | None = None,
) -> DeadlineState:
    """Working days left, and whether the deadline is met, approaching or overdue, as of
    ``today``. Alerts count only for the due date they were raised for."""
    alerts = alerts or DeadlineAlerts()
    mine = [n for n in notifications if n.rule_id == rule_id]
    delivered = bool(mine) and all(n.status == DELIVERED and n.delivered_at for n in mine)
    met_on = alerts.met_on
    met_on_time = alerts.met_on_time
    if met_on is None and delivered:
        met_on = max(london_date(n.delivered_at) for n in mine if n.delivered_at)
        met_on_time = met_on <= due_on
    met = met_on is not None
    breached = not met and alerts.breached_due_on == due_on
    overdue = not met and (breached or today > due_on)
    return DeadlineState(
        days_left=calendar.working_days_between(today, due_on),
        overdue=overdue,
        met=met,
        met_on=met_on,
        approaching=not met and not overdue and alerts.approaching_due_on == due_on,
        breached=breached,
        met_on_time=met_on_time,
    )
