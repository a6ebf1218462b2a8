"""Dashboard queries: read the read models, scoped to what the caller may see.

Counts and deadline states are computed here, when read, from rows that events only ever
upsert: that is what keeps them right under replays and out-of-order topics. Reads of case
data are audited (design.md s6), in the request's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import CaseView, NotificationView, PartnershipView
from services.reporting.readmodel import (
    DeliveryFact,
    deadline_state,
    is_open,
    on_time,
)
from services.reporting.schemas import (
    CaseOut,
    CouncilOut,
    DeadlineOut,
    DeliveryCounts,
    NextDeadline,
    NotificationOut,
    PartnershipItem,
    PartnershipPage,
    PartnershipSummary,
)
from shared.audit import record_audit
from shared.auth import Principal
from shared.calendar import WorkingDayCalendar
from shared.contracts.reviews import DeadlineRef
from shared.problems import NotFound


class Clock:
    """Today's date and the working-day calendar, fixed for one request."""

    def __init__(self, today: date, calendar: WorkingDayCalendar) -> None:
        self.today = today
        self.calendar = calendar


async def list_partnerships(
    session: AsyncSession, principal: Principal, clock: Clock, limit: int, offset: int
) -> PartnershipPage:
    query = select(PartnershipView)
    count = select(func.count()).select_from(PartnershipView)
    if not principal.is_admin:
        visible = sorted(principal.partnership_ids)
        query = query.where(col(PartnershipView.partnership_id).in_(visible))
        count = count.where(col(PartnershipView.partnership_id).in_(visible))
    total = (await session.exec(count)).one()
    rows = (
        await session.exec(
            query.order_by(
                col(PartnershipView.name).is_(None),
                col(PartnershipView.name),
                col(PartnershipView.partnership_id),
            )
            .limit(limit)
            .offset(offset)
        )
    ).all()
    cases, notes = await _load(session, [p.partnership_id for p in rows])
    items = [_item(p, cases[p.partnership_id], notes[p.partnership_id], clock) for p in rows]
    return PartnershipPage(items=items, total=int(total), limit=limit, offset=offset)


async def partnership_summary(
    session: AsyncSession, principal: Principal, clock: Clock, partnership_id: str
) -> PartnershipSummary:
    principal.require_partnership(partnership_id)
    partnership = await session.get(PartnershipView, partnership_id)
    if partnership is None:
        raise NotFound("Partnership not found.")
    cases, notes = await _load(session, [partnership_id])
    mine, my_notes = cases[partnership_id], notes[partnership_id]
    item = _item(partnership, mine, my_notes, clock)
    by_case = _by_case(my_notes)
    newest_first = sorted(mine, key=lambda c: (c.notified_at, c.case_id), reverse=True)
    record_audit(
        session,
        principal,
        "read",
        "partnership_summary",
        partnership_id,
        partnership_id=partnership_id,
        detail={"cases": len(mine)},
    )
    return PartnershipSummary(
        **item.model_dump(),
        cases=[_case_out(c, by_case.get(c.case_id, []), clock) for c in newest_first],
    )


async def case_detail(
    session: AsyncSession, principal: Principal, clock: Clock, case_id: str
) -> CaseOut:
    case = await session.get(CaseView, case_id)
    if case is None:
        raise NotFound("Case not found.")
    principal.require_partnership(case.partnership_id, "Case")
    notes = (
        await session.exec(
            select(NotificationView)
            .where(NotificationView.case_id == case_id)
            .where(NotificationView.partnership_id == case.partnership_id)
        )
    ).all()
    record_audit(session, principal, "read", "case", case_id, partnership_id=case.partnership_id)
    return _case_out(case, list(notes), clock)


# ---- assembling -------------------------------------------------------------------------


async def _load(
    session: AsyncSession, partnership_ids: Sequence[str]
) -> tuple[dict[str, list[CaseView]], dict[str, list[NotificationView]]]:
    """Cases and notifications of these partnerships (a handful each: a few a year)."""
    cases: dict[str, list[CaseView]] = defaultdict(list)
    notes: dict[str, list[NotificationView]] = defaultdict(list)
    if not partnership_ids:
        return cases, notes
    for case in (
        await session.exec(
            select(CaseView).where(col(CaseView.partnership_id).in_(partnership_ids))
        )
    ).all():
        cases[case.partnership_id].append(case)
    for note in (
        await session.exec(
            select(NotificationView).where(
                col(NotificationView.partnership_id).in_(partnership_ids)
            )
        )
    ).all():
        notes[note.partnership_id].append(note)
    return cases, notes


def _by_case(notes: Sequence[NotificationView]) -> dict[str, list[NotificationView]]:
    grouped: dict[str, list[NotificationView]] = defaultdict(list)
    for note in notes:
        grouped[note.case_id].append(note)
    return grouped


def _facts(notes: Sequence[NotificationView]) -> list[DeliveryFact]:
    return [DeliveryFact(n.rule_id, n.status, n.delivered_at) for n in notes]


def _deadlines(
    case: CaseView, notes: Sequence[NotificationView], clock: Clock
) -> list[DeadlineOut]:
    facts = _facts(notes)
    out = []
    for raw in case.deadlines:
        ref = DeadlineRef.model_validate(raw)
        state = deadline_state(ref.rule_id, ref.due_on, facts, clock.today, clock.calendar)
        out.append(
            DeadlineOut(
                rule_id=ref.rule_id,
                title=ref.title,
                edition=ref.edition,
                starts_on=ref.starts_on,
                due_on=ref.due_on,
                recipients=list(ref.recipients),
                days_left=state.days_left,
                overdue=state.overdue,
                met=state.met,
                met_on=state.met_on,
            )
        )
    return sorted(out, key=lambda d: (d.due_on, d.rule_id))


def _case_out(case: CaseView, notes: Sequence[NotificationView], clock: Clock) -> CaseOut:
    deadlines = _deadlines(case, notes, clock)
    due_by_rule = {d.rule_id: d.due_on for d in deadlines}
    return CaseOut(
        case_id=case.case_id,
        partnership_id=case.partnership_id,
        kind=case.kind,
        nature=case.nature,
        status=case.status,
        incident_date=case.incident_date,
        aware_on=case.aware_on,
        notified_at=case.notified_at,
        needs_rapid_review=case.needs_rapid_review,
        deadlines=deadlines,
        notifications=[
            _notification_out(n, n.due_on or due_by_rule.get(n.rule_id or ""), clock)
            for n in sorted(notes, key=lambda n: (n.rule_id or "", n.recipient, n.notification_id))
        ],
    )


def _notification_out(n: NotificationView, due_on: date | None, clock: Clock) -> NotificationOut:
    return NotificationOut(
        notification_id=n.notification_id,
        recipient=n.recipient,
        channel=n.channel,
        rule_id=n.rule_id,
        status=n.status,
        attempts=n.attempts,
        delivered_at=n.delivered_at,
        last_error=n.last_error,
        next_attempt_at=n.next_attempt_at,
        due_on=due_on,
        on_time=on_time(n.on_time, n.delivered_at, due_on, clock.today),
    )


def _item(
    p: PartnershipView,
    cases: Sequence[CaseView],
    notes: Sequence[NotificationView],
    clock: Clock,
) -> PartnershipItem:
    """One partnership's line: open cases, its earliest unmet deadline, deliveries."""
    open_cases = [c for c in cases if is_open(c.status)]
    closed_ids = {c.case_id for c in cases if not is_open(c.status)}
    # A notification whose case has not arrived yet counts: the case is new, so open.
    live_notes = [n for n in notes if n.case_id not in closed_ids]
    by_case = _by_case(live_notes)
    unmet = [
        (d.due_on, case.case_id, d)
        for case in open_cases
        for d in _deadlines(case, by_case.get(case.case_id, []), clock)
        if not d.met
    ]
    next_deadline = None
    if unmet:
        _, case_id, d = min(unmet, key=lambda u: (u[0], u[1], u[2].rule_id))
        next_deadline = NextDeadline(
            case_id=case_id,
            rule_id=d.rule_id,
            title=d.title,
            due_on=d.due_on,
            days_left=d.days_left,
            overdue=d.overdue,
        )
    counts: dict[str, int] = defaultdict(int)
    for n in live_notes:
        counts[n.status] += 1
    return PartnershipItem(
        partnership_id=p.partnership_id,
        name=p.name,
        status=p.status,
        councils=[CouncilOut.model_validate(c) for c in p.councils or []],
        open_cases=len(open_cases),
        next_deadline=next_deadline,
        deliveries=DeliveryCounts(**counts),
    )
