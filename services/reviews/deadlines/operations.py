"""Writes: marking a deadline met, and correcting a case's dates (which recomputes the
deadlines counted from them). Each puts its change, an audit entry and its event in the
caller's transaction; nothing here commits."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.deadlines.models import DeadlineMet
from services.reviews.deadlines.monitor import DATE_DEPENDENCIES, Monitor
from services.reviews.deadlines.queries import alerts_of, deadline_item
from services.reviews.deadlines.schemas import (
    DateChangeOut,
    DatesIn,
    DatesOut,
    DeadlineItem,
    MetIn,
    RecomputedOut,
)
from services.reviews.models import Case, CaseDeadline
from services.reviews.rules import IncidentKind, RuleBook, incident_deadlines
from shared.audit import record_audit
from shared.auth import Principal
from shared.contracts.reviews.deadlines import (
    DateChange,
    DeadlineRecomputed,
    RecomputedDeadline,
)
from shared.contracts.reviews.deadlines import (
    DeadlineMet as DeadlineMetEvent,
)
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable, pointer


async def _case(session: AsyncSession, principal: Principal, case_id: str) -> Case:
    case = await session.get(Case, case_id)
    if case is None or not principal.can_see(case.partnership_id):
        raise NotFound("Case not found.")
    return case


# -- met --------------------------------------------------------------------------------------


async def mark_met(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    monitor: Monitor,
    case_id: str,
    rule_id: str,
    body: MetIn,
) -> tuple[DeadlineItem, bool]:
    """Record the day a deadline was met; returns the deadline and whether it was recorded
    just now. The same day again is a retry (200); a different day is a conflict (409): a
    wrong date is not silently rewritten."""
    case = await _case(session, principal, case_id)
    deadline = (
        await session.exec(
            select(CaseDeadline)
            .where(CaseDeadline.case_id == case.id)
            .where(CaseDeadline.rule_id == rule_id)
        )
    ).first()
    if deadline is None:
        raise NotFound("Deadline not found.")
    today = monitor.today()
    existing = await _met_of(session, case.id, rule_id)
    if existing is not None:
        if existing.met_on != body.met_on:
            raise Conflict(
                f"{rule_id} was already marked met on {existing.met_on.isoformat()}.",
                field="met_on",
            )
        item = deadline_item(
            monitor, today, deadline, case.partnership_id, existing.met_on,
            await alerts_of(session, case.id, rule_id),
        )  # fmt: skip
        return item, False
    if body.met_on > today:
        raise Unprocessable(
            f"cannot be in the future (today is {today.isoformat()})", field="met_on"
        )
    if body.met_on < case.aware_on:
        raise Unprocessable(
            f"cannot be before the council became aware ({case.aware_on.isoformat()})",
            field="met_on",
        )
    row = DeadlineMet(
        case_id=case.id,
        rule_id=rule_id,
        met_on=body.met_on,
        recorded_by=f"{principal.kind}:{principal.id}",
    )
    try:
        async with session.begin_nested():  # a concurrent mark of the same deadline
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(f"{rule_id} was just marked met by another request.") from None
    on_time = body.met_on <= deadline.due_on
    outbox.emit(
        session,
        DeadlineMetEvent(
            case_id=case.id,
            partnership_id=case.partnership_id,
            rule_id=rule_id,
            title=deadline.title,
            edition=deadline.edition,
            due_on=deadline.due_on,
            recipients=list(deadline.recipients),
            met_on=body.met_on,
            on_time=on_time,
        ),
        partnership_id=case.partnership_id,
        subject=case.id,
    )
    record_audit(
        session,
        principal,
        "mark_met",
        "case_deadline",
        deadline.id,
        partnership_id=case.partnership_id,
        detail={
            "case_id": case.id,
            "rule_id": rule_id,
            "due_on": deadline.due_on.isoformat(),
            "met_on": body.met_on.isoformat(),
            "on_time": on_time,
        },
    )
    item = deadline_item(
        monitor, today, deadline, case.partnership_id, body.met_on,
        await alerts_of(session, case.id, rule_id),
    )  # fmt: skip
    return item, True


async def _met_of(session: AsyncSession, case_id: str, rule_id: str) -> DeadlineMet | None:
    return (
        await session.exec(
            select(DeadlineMet)
            .where(DeadlineMet.case_id == case_id)
            .where(DeadlineMet.rule_id == rule_id)
        )
    ).first()


# -- corrections ------------------------------------------------------------------------------


def _pinned(rulebook: RuleBook, edition: str) -> RuleBook:
    """The rules of one edition, in force whatever the date: a corrected case keeps the
    edition it started with (domain.md preamble), even if the corrected date falls in
    another edition's window. Periods are today's (with any (verify) override)."""
    return RuleBook(
        replace(r, effective_from=date.min, effective_to=None)
        for r in rulebook
        if r.edition == edition
    )


def _check_dates(
    body: DatesIn, case: Case, aware_on: date, incident_date: date | None, notified_on: date
) -> None:
    errors: list[tuple[str, str]] = []
    given = body.model_fields_set
    if not given & {"aware_on", "incident_date"}:
        errors += [(f, "give aware_on and/or incident_date") for f in ("aware_on", "incident_date")]
    if "aware_on" in given and body.aware_on is None:
        errors.append(("aware_on", "cannot be removed: the SIN-5WD clock starts on it"))
    if aware_on > notified_on:
        errors.append(("aware_on", f"cannot be after the notification ({notified_on.isoformat()})"))
    if incident_date is not None:
        if incident_date > notified_on:
            errors.append(("incident_date", "cannot be after the notification"))
        if aware_on < incident_date:
            field = "incident_date" if "aware_on" not in given else "aware_on"
            errors.append((field, "the council cannot become aware before the incident"))
    if errors:
        fields = ", ".join(dict.fromkeys(f for f, _ in errors))
        raise Unprocessable(
            f"Check these fields: {fields}.",
            errors=[
                {"field": f, "pointer": pointer(f), "in": "body", "detail": d} for f, d in errors
            ],
        )


async def correct_dates(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    monitor: Monitor,
    case_id: str,
    body: DatesIn,
) -> DatesOut:
    """Correct ``aware_on`` and/or ``incident_date`` and recompute the deadlines counted from
    them (DATE_DEPENDENCIES), each keeping its rule edition. Alerts fired for an old due date
    stay on record; the scheduler can alert again for the new one."""
    case = await _case(session, principal, case_id)
    given = body.model_fields_set
    aware_on = body.aware_on if "aware_on" in given and body.aware_on else case.aware_on
    incident_date = body.incident_date if "incident_date" in given else case.incident_date
    notified_on = monitor.intake.local_date(case.notified_at)
    _check_dates(body, case, aware_on, incident_date, notified_on)

    changes = [
        DateChangeOut(field=f, previous=old, value=new)
        for f, old, new in (
            ("aware_on", case.aware_on, aware_on),
            ("incident_date", case.incident_date, incident_date),
        )
        if old != new
    ]
    if not changes:  # nothing to correct: nothing written
        return DatesOut(
            case_id=case.id, aware_on=case.aware_on, incident_date=case.incident_date,
            changes=[], deadlines=[],
        )  # fmt: skip

    dependent = frozenset().union(*(DATE_DEPENDENCIES[c.field] for c in changes))
    rows = (
        await session.exec(
            select(CaseDeadline)
            .where(CaseDeadline.case_id == case.id)
            .where(col(CaseDeadline.rule_id).in_(sorted(dependent)))
            .order_by(col(CaseDeadline.position))
        )
    ).all()
    recomputed: list[RecomputedOut] = []
    if rows:
        fresh = {
            d.rule_id: d
            for d in incident_deadlines(
                IncidentKind(case.kind),
                aware_on,
                notified_on,
                case.abuse_or_neglect_known_or_suspected,
                _pinned(monitor.intake.rulebook, rows[0].edition),
                monitor.calendar,
            )
        }
        for row in rows:
            new = fresh.get(row.rule_id)
            if new is None:  # pragma: no cover (the case's kind gives the same rules)
                continue
            recomputed.append(
                RecomputedOut(
                    rule_id=row.rule_id,
                    edition=row.edition,
                    previous_starts_on=row.starts_on,
                    previous_due_on=row.due_on,
                    starts_on=new.starts_on,
                    due_on=new.due_on,
                )
            )
            row.starts_on, row.due_on = new.starts_on, new.due_on
            session.add(row)

    case.aware_on = aware_on
    case.incident_date = incident_date
    session.add(case)
    if recomputed:
        outbox.emit(
            session,
            DeadlineRecomputed(
                case_id=case.id,
                partnership_id=case.partnership_id,
                reason=body.reason,
                changes=[DateChange(**c.model_dump()) for c in changes],
                deadlines=[RecomputedDeadline(**r.model_dump()) for r in recomputed],
            ),
            partnership_id=case.partnership_id,
            subject=case.id,
        )
    record_audit(
        session,
        principal,
        "correct_dates",
        "case",
        case.id,
        partnership_id=case.partnership_id,
        detail={
            "reason": body.reason,
            "changes": [c.model_dump(mode="json") for c in changes],
            "deadlines": [r.model_dump(mode="json") for r in recomputed],
        },
    )
    return DatesOut(
        case_id=case.id,
        aware_on=aware_on,
        incident_date=incident_date,
        changes=changes,
        deadlines=recomputed,
    )
