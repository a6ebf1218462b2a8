"""The deadline scheduler: ``masa.deadline.approaching.v1`` and ``masa.deadline.breached.v1``.

Each tick evaluates every unmet deadline against today (England, from the injected clock):

- **breached** once the due date has passed (from the calendar day after it);
- **approaching** when not breached and at most the rule's lead time in working days remain
  (monitor.py; domain.md s8 working days). A deadline already overdue when first evaluated
  gets only the breach: an approach alert for a past date tells nobody anything.

Guarantees:

- **Catch-up**: a tick evaluates the state of every deadline, not the time since the last
  tick, and one runs at start; so ticks missed while the service was down cost nothing.
- **Once**: every alert is a ``deadline_alert`` row, unique on (case, rule, kind, due date),
  inserted in the same transaction as its outbox event. A second tick, a restart or another
  instance inserting the same alert fails on the constraint (in a savepoint) and emits
  nothing. On PostgreSQL a concurrent instance's insert waits for the first to commit and
  then fails; both walk candidates in the same order, so they never deadlock.
- A tick first looks for work in a read session, so an idle tick takes no write lock; it
  looks again inside the write transaction, so a deadline met meanwhile is not alerted.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.cases import Clock, system_clock
from services.reviews.deadlines.models import AlertKind, DeadlineAlert, DeadlineMet
from services.reviews.deadlines.monitor import Monitor
from services.reviews.models import Case, CaseDeadline
from services.reviews.settings import ReviewsSettings
from shared.contracts.reviews.deadlines import DeadlineApproaching, DeadlineBreached
from shared.db import Database
from shared.events import EventPayload
from shared.outbox import Outbox
from shared.service import Runtime

log = logging.getLogger("masa.reviews.deadlines")


@dataclass(frozen=True)
class Candidate:
    case_id: str
    partnership_id: str
    rule_id: str
    title: str
    edition: str
    due_on: date
    recipients: tuple[str, ...]
    kind: AlertKind


@dataclass
class TickResult:
    today: date
    fired: int = 0
    skipped: int = 0  # already fired by a concurrent tick (lost the race on the constraint)


def _alert_exists(kind: AlertKind) -> object:
    return exists().where(
        and_(
            col(DeadlineAlert.case_id) == col(CaseDeadline.case_id),
            col(DeadlineAlert.rule_id) == col(CaseDeadline.rule_id),
            col(DeadlineAlert.due_on) == col(CaseDeadline.due_on),
            col(DeadlineAlert.kind) == kind.value,
        )
    )


async def find_due(session: AsyncSession, monitor: Monitor, today: date) -> list[Candidate]:
    """Unmet deadlines due within the longest lead time (or overdue) whose alert for this due
    date has not fired yet, earliest first; the per-rule lead is applied here."""
    horizon = monitor.due_soon_before(today, monitor.max_lead())
    met = exists().where(
        and_(
            col(DeadlineMet.case_id) == col(CaseDeadline.case_id),
            col(DeadlineMet.rule_id) == col(CaseDeadline.rule_id),
        )
    )
    overdue = col(CaseDeadline.due_on) < today
    query = (
        select(CaseDeadline, Case.partnership_id)
        .join(Case, col(Case.id) == col(CaseDeadline.case_id))
        .where(col(CaseDeadline.due_on) < horizon)
        .where(~met)
        .where(~_alert_exists(AlertKind.breached))  # type: ignore[operator]
        .where(or_(overdue, ~_alert_exists(AlertKind.approaching)))  # type: ignore[operator]
        .order_by(col(CaseDeadline.due_on), col(CaseDeadline.case_id), col(CaseDeadline.rule_id))
    )
    found: list[Candidate] = []
    for d, partnership_id in (await session.exec(query)).all():
        if d.due_on < today:
            kind = AlertKind.breached
        elif monitor.working_days_remaining(today, d.due_on) <= monitor.lead(d.rule_id):
            kind = AlertKind.approaching
        else:
            continue  # within the longest lead, not this rule's
        found.append(
            Candidate(
                d.case_id,
                partnership_id,
                d.rule_id,
                d.title,
                d.edition,
                d.due_on,
                tuple(d.recipients),
                kind,
            )
        )
    return found


def _payload(monitor: Monitor, c: Candidate, today: date) -> EventPayload:
    common = {
        "case_id": c.case_id,
        "partnership_id": c.partnership_id,
        "rule_id": c.rule_id,
        "title": c.title,
        "edition": c.edition,
        "due_on": c.due_on,
        "recipients": list(c.recipients),
        "evaluated_on": today,
    }
    if c.kind == AlertKind.breached:
        return DeadlineBreached(
            **common,
            working_days_overdue=-monitor.working_days_remaining(today, c.due_on),
            calendar_days_overdue=(today - c.due_on).days,
        )
    return DeadlineApproaching(
        **common,
        working_days_remaining=monitor.working_days_remaining(today, c.due_on),
        calendar_days_remaining=(c.due_on - today).days,
        lead_working_days=monitor.lead(c.rule_id),
    )


async def tick(db: Database, outbox: Outbox, monitor: Monitor) -> TickResult:
    """Fire every alert that is due and has not fired; safe to run concurrently."""
    today = monitor.today()
    result = TickResult(today)
    async with db.read() as session:  # an idle tick takes no write lock
        if not await find_due(session, monitor, today):
            return result
    async with db.transaction() as session:
        # Found again inside the transaction: a deadline met or corrected meanwhile is not
        # alerted on its stale state.
        for c in await find_due(session, monitor, today):
            event_id = str(uuid.uuid4())
            try:
                async with session.begin_nested():
                    session.add(
                        DeadlineAlert(
                            case_id=c.case_id,
                            rule_id=c.rule_id,
                            kind=c.kind.value,
                            due_on=c.due_on,
                            evaluated_on=today,
                            event_id=event_id,
                        )
                    )
                    await session.flush()
            except IntegrityError:
                result.skipped += 1
                continue
            outbox.emit(
                session,
                _payload(monitor, c, today),
                partnership_id=c.partnership_id,
                subject=c.case_id,
                event_id=event_id,
            )
            result.fired += 1
    if result.fired:
        log.info("deadline alerts fired: %d (evaluated on %s)", result.fired, today)
    return result


def deadline_scheduler(clock: Clock = system_clock) -> Callable[[Runtime], Awaitable[None]]:
    """The ``ServiceSpec.workers`` entry: a tick at start (catch-up), then one per
    ``deadline_check_interval_seconds``. A failed tick is logged and retried next time."""

    async def deadline_scheduler(runtime: Runtime) -> None:
        settings = runtime.settings
        assert isinstance(settings, ReviewsSettings)
        monitor = Monitor.from_settings(settings, clock)
        while True:
            try:
                await tick(runtime.db, runtime.outbox, monitor)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline tick failed; will retry")
            await asyncio.sleep(settings.deadline_check_interval_seconds)

    return deadline_scheduler
