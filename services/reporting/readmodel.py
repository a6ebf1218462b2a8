"""The read-model rules, as pure functions: no I/O, no database, no settings.

- A notification's delivery status only moves forward: ``queued`` < ``retrying`` <
  ``abandoned`` < ``delivered``. Events of one partnership arrive in order within a topic, but
  a replay, a re-seeded broker or a late duplicate can bring an older status after a newer one;
  it must not turn a delivered notification back into a retrying one. ``delivered`` outranks
  ``abandoned``: a delivery is proof the duty was met, even if it came after an escalation.
- Working days left are counted with the England and Wales calendar (domain.md s8): 0 on the
  due day, negative once overdue. "Today" is the date in Europe/London, where the duties fall.
- A deadline is met when the case has notifications for its rule and all were delivered; only
  an unmet deadline can be overdue. (Deadlines with no notification rule, like the rapid review,
  stay unmet until later slices carry the events that meet them.)
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

NOTIFIED = "notified"  # the reviews service's first case status; later slices add more
CLOSED_CASE_STATUSES: frozenset[str] = frozenset({"closed", "withdrawn"})


def advance(current: str, incoming: str) -> str:
    """The status after an event saying ``incoming``: never a step backwards."""
    return incoming if STATUS_RANK[incoming] > STATUS_RANK.get(current, -1) else current


def is_open(case_status: str) -> bool:
    return case_status not in CLOSED_CASE_STATUSES


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


def deadline_state(
    rule_id: str,
    due_on: date,
    notifications: Iterable[DeliveryFact],
    today: date,
    calendar: WorkingDayCalendar,
) -> DeadlineState:
    """Working days left, and whether the deadline is met or overdue, as of ``today``."""
    mine = [n for n in notifications if n.rule_id == rule_id]
    met = bool(mine) and all(n.status == DELIVERED and n.delivered_at for n in mine)
    met_on = max(london_date(n.delivered_at) for n in mine if n.delivered_at) if met else None
    return DeadlineState(
        days_left=calendar.working_days_between(today, due_on),
        overdue=not met and today > due_on,
        met=met,
        met_on=met_on,
    )
