"""Dashboard queries: read the read models, scoped to what the caller may see.

Counts and deadline states are computed here, when read, from rows that events only ever
upsert: that is what keeps them right under replays and out-of-order topics. Reads of case
data are audited (design.md s6), in the request's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.handlers import AGENCY, BUDGET, CONTRIBUTION, LINK, SCRUTINY
from services.reporting.models import (
    CaseProgressView,
    CaseView,
    DeadlineView,
    DelegationView,
    FundingView,
    NotificationView,
    PartnershipView,
    RegistryRecordView,
)
from services.reporting.readmodel import (
    NOTIFIED,
    DeadlineAlerts,
    DeliveryFact,
    council_is_current,
    deadline_state,
    ended,
    is_open,
    on_time,
)
from services.reporting.schemas import (
    ArrangementsOut,
    CaseOut,
    CouncilOut,
    DeadlineCounts,
    DeadlineOut,
    DelegationCounts,
    DeliveryCounts,
    FundingYear,
    NextDeadline,
    NotificationOut,
    PartnershipItem,
    PartnershipPage,
    PartnershipSummary,
    RegistryCounts,
    StatusChange,
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
    loaded = await _load(session, [p.partnership_id for p in rows])
    items = [_item(p, loaded[p.partnership_id], clock) for p in rows]
    return PartnershipPage(items=items, total=int(total), limit=limit, offset=offset)


async def partnership_summary(
    session: AsyncSession, principal: Principal, clock: Clock, partnership_id: str
) -> PartnershipSummary:
    principal.require_partnership(partnership_id)
    partnership = await session.get(PartnershipView, partnership_id)
    if partnership is None:
        raise NotFound("Partnership not found.")
    mine = (await _load(session, [partnership_id]))[partnership_id]
    item = _item(partnership, mine, clock)
    by_case = _by_case(mine.notes)
    newest_first = sorted(mine.cases, key=lambda c: (c.notified_at, c.case_id), reverse=True)
    record_audit(
        session,
        principal,
        "read",
        "partnership_summary",
        partnership_id,
        partnership_id=partnership_id,
        detail={"cases": len(mine.cases)},
    )
    return PartnershipSummary(
        **item.model_dump(),
        status_history=[StatusChange.model_validate(e) for e in partnership.status_history or []],
        cases=[_case_out(c, by_case.get(c.case_id, []), mine, clock) for c in newest_first],
    )


async def case_detail(
    session: AsyncSession, principal: Principal, clock: Clock, case_id: str
) -> CaseOut:
    case = await session.get(CaseView, case_id)
    if case is None:
        raise NotFound("Case not found.")
    principal.require_partnership(case.partnership_id, "Case")
    pid = case.partnership_id
    notes = (
        await session.exec(
            select(NotificationView)
            .where(NotificationView.case_id == case_id)
            .where(NotificationView.partnership_id == pid)
        )
    ).all()
    loaded = Loaded()
    progress = await session.get(CaseProgressView, case_id)
    if progress is not None and progress.partnership_id == pid:
        loaded.progress[case_id] = progress
    loaded.deadlines[case_id] = list(
        (
            await session.exec(
                select(DeadlineView)
                .where(DeadlineView.case_id == case_id)
                .where(DeadlineView.partnership_id == pid)
            )
        ).all()
    )
    record_audit(session, principal, "read", "case", case_id, partnership_id=pid)
    return _case_out(case, list(notes), loaded, clock)


# ---- assembling -------------------------------------------------------------------------


@dataclass
class Loaded:
    """One partnership's rows from every read model (a handful each: a few cases a year)."""

    cases: list[CaseView] = field(default_factory=list)
    notes: list[NotificationView] = field(default_factory=list)
    progress: dict[str, CaseProgressView] = field(default_factory=dict)
    deadlines: dict[str, list[DeadlineView]] = field(default_factory=lambda: defaultdict(list))
    delegations: list[DelegationView] = field(default_factory=list)
    records: list[RegistryRecordView] = field(default_factory=list)
    funding: list[FundingView] = field(default_factory=list)


async def _load(session: AsyncSession, partnership_ids: Sequence[str]) -> dict[str, Loaded]:
    """Every read model's rows of these partnerships, a query per table."""
    loaded: dict[str, Loaded] = defaultdict(Loaded)
    if not partnership_ids:
        return loaded

    async def rows(model: Any) -> Sequence[Any]:
        query = select(model).where(col(model.partnership_id).in_(partnership_ids))
        return (await session.exec(query)).all()

    for case in await rows(CaseView):
        loaded[case.partnership_id].cases.append(case)
    for note in await rows(NotificationView):
        loaded[note.partnership_id].notes.append(note)
    for progress in await rows(CaseProgressView):
        loaded[progress.partnership_id].progress[progress.case_id] = progress
    for deadline in await rows(DeadlineView):
        loaded[deadline.partnership_id].deadlines[deadline.case_id].append(deadline)
    for delegation in await rows(DelegationView):
        loaded[delegation.partnership_id].delegations.append(delegation)
    for record in await rows(RegistryRecordView):
        loaded[record.partnership_id].records.append(record)
    for money in await rows(FundingView):
        loaded[money.partnership_id].funding.append(money)
    return loaded


def _status(case: CaseView, loaded: Loaded) -> tuple[str, CaseProgressView | None]:
    progress = loaded.progress.get(case.case_id)
    return (progress.status if progress else case.status or NOTIFIED), progress


def _by_case(notes: Sequence[NotificationView]) -> dict[str, list[NotificationView]]:
    grouped: dict[str, list[NotificationView]] = defaultdict(list)
    for note in notes:
        grouped[note.case_id].append(note)
    return grouped


def _facts(notes: Sequence[NotificationView]) -> list[DeliveryFact]:
    return [DeliveryFact(n.rule_id, n.status, n.delivered_at) for n in notes]


def _deadlines(
    case: CaseView, notes: Sequence[NotificationView], loaded: Loaded, clock: Clock
) -> list[DeadlineOut]:
    """The case's deadlines: those notified with it, overlaid by what deadline events said
    (a recomputed due date, alerts, met), plus any the events added (LCSPR-6M ...)."""
    facts = _facts(notes)
    refs: dict[str, dict[str, Any]] = {}
    for raw in case.deadlines:
        notified = DeadlineRef.model_validate(raw)
        refs[notified.rule_id] = notified.model_dump()
    alerts: dict[str, DeadlineAlerts] = {}
    for row in loaded.deadlines.get(case.case_id, []):
        ref = refs.setdefault(
            row.rule_id,
            {"rule_id": row.rule_id, "title": row.title or row.rule_id, "edition": row.edition,
             "starts_on": row.starts_on, "due_on": row.due_on,
             "recipients": list(row.recipients or [])},
        )  # fmt: skip
        if row.due_on is not None:
            ref["due_on"] = row.due_on
            if row.starts_on is not None:
                ref["starts_on"] = row.starts_on
        alerts[row.rule_id] = DeadlineAlerts(
            approaching_due_on=row.approaching_due_on,
            breached_due_on=row.breached_due_on,
            met_on=row.met_on,
            met_on_time=row.met_on_time,
        )
    out = []
    for rule_id, ref in refs.items():
        due_on = ref["due_on"]
        if due_on is None:  # only a met event with no date known: nothing to show yet
            continue
        state = deadline_state(
            rule_id, due_on, facts, clock.today, clock.calendar, alerts.get(rule_id)
        )
        out.append(
            DeadlineOut(
                rule_id=rule_id,
                title=ref["title"],
                edition=ref["edition"],
                starts_on=ref["starts_on"],
                due_on=due_on,
                recipients=list(ref["recipients"]),
                days_left=state.days_left,
                overdue=state.overdue,
                met=state.met,
                met_on=state.met_on,
                met_on_time=state.met_on_time,
                approaching=state.approaching,
                breached=state.breached,
            )
        )
    return sorted(out, key=lambda d: (d.due_on, d.rule_id))


def _case_out(
    case: CaseView, notes: Sequence[NotificationView], loaded: Loaded, clock: Clock
) -> CaseOut:
    deadlines = _deadlines(case, notes, loaded, clock)
    due_by_rule = {d.rule_id: d.due_on for d in deadlines}
    status, progress = _status(case, loaded)
    return CaseOut(
        case_id=case.case_id,
        partnership_id=case.partnership_id,
        kind=case.kind,
        nature=case.nature,
        status=status,
        open=is_open(status),
        status_at=progress.at if progress else None,
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


def _councils(p: PartnershipView) -> list[CouncilOut]:
    """The councils covered now, from the membership history (or the founding list)."""
    history = p.council_history or {}
    if not history:
        return [CouncilOut.model_validate(c) for c in p.councils or []]
    current = [
        c
        for c in history.values()
        if council_is_current(
            date.fromisoformat(c["joined_on"]) if c.get("joined_on") else None,
            date.fromisoformat(c["left_on"]) if c.get("left_on") else None,
        )
    ]
    return [CouncilOut.model_validate(c) for c in sorted(current, key=lambda c: str(c["ons_code"]))]


def _funding(rows: Sequence[FundingView]) -> list[FundingYear]:
    years: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row.withdrawn:
            continue
        totals = years[row.year]
        if row.kind == BUDGET:
            totals["budget"] += row.money_pence
        elif row.kind == CONTRIBUTION:
            totals["money"] += row.money_pence
            totals["in_kind"] += row.in_kind_pence
    return [
        FundingYear(
            year=year,
            budget_pence=t["budget"],
            contributions_money_pence=t["money"],
            contributions_in_kind_pence=t["in_kind"],
            contributions_total_pence=t["money"] + t["in_kind"],
        )
        for year, t in sorted(years.items())
    ]


def _item(p: PartnershipView, loaded: Loaded, clock: Clock) -> PartnershipItem:
    """One partnership's line: cases, deadlines, deliveries and its registry figures."""
    open_cases = [c for c in loaded.cases if is_open(_status(c, loaded)[0])]
    closed_ids = {c.case_id for c in loaded.cases if not is_open(_status(c, loaded)[0])}
    # A notification whose case has not arrived yet counts: the case is new, so open.
    live_notes = [n for n in loaded.notes if n.case_id not in closed_ids]
    by_case = _by_case(live_notes)
    deadline_counts = DeadlineCounts()
    unmet = []
    for case in open_cases:
        for d in _deadlines(case, by_case.get(case.case_id, []), loaded, clock):
            if d.met:
                deadline_counts.met += 1
                continue
            unmet.append((d.due_on, case.case_id, d))
            if d.overdue:
                deadline_counts.overdue += 1
                deadline_counts.breached += d.breached
            elif d.approaching:
                deadline_counts.approaching += 1
            else:
                deadline_counts.open += 1
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
    current = [d for d in loaded.delegations if d.ended_on is None]
    live = [r for r in loaded.records if r.removed_on is None and not ended(r.ends_on, clock.today)]
    return PartnershipItem(
        partnership_id=p.partnership_id,
        name=p.name,
        status=p.status,
        status_since=p.status_since,
        councils=_councils(p),
        open_cases=len(open_cases),
        closed_cases=len(closed_ids),
        next_deadline=next_deadline,
        deadlines=deadline_counts,
        deliveries=DeliveryCounts(**counts),
        delegations=DelegationCounts(
            current=len(current), below_threshold=sum(d.below_threshold for d in current)
        ),
        registry=RegistryCounts(
            relevant_agencies=sum(r.kind == AGENCY for r in live),
            scrutiny_arrangements=sum(r.kind == SCRUTINY for r in live),
            strategic_links=sum(r.kind == LINK for r in live),
        ),
        arrangements=ArrangementsOut(
            version=p.arrangements_version,
            url=p.arrangements_url,
            published_on=p.arrangements_published_on,
            implementation_date=p.arrangements_implementation_date,
        )
        if p.arrangements_version is not None
        else None,
        funding=_funding(loaded.funding),
    )
