"""Reads: the deadlines of the caller's partnerships by status, and the rule book.

Statuses are evaluated on "today" in England (the injected clock), with the working-day
calendar turned into due-date ranges so that filtering, counting and paging run in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reviews.deadlines.models import DeadlineAlert, DeadlineMet
from services.reviews.deadlines.monitor import Monitor, StatusFilter
from services.reviews.deadlines.schemas import AlertOut, DeadlineItem, RuleOut
from services.reviews.models import Case, CaseDeadline
from services.reviews.rules import DEFAULT_RULEBOOK, DeadlineRule
from shared.auth import Principal
from shared.problems import Unprocessable


def _due_soon(monitor: Monitor, today: date, within_days: int | None) -> Any:
    """Unmet deadlines due from today to the lead time (``within_days``, else each rule's)."""
    not_overdue = col(CaseDeadline.due_on) >= today
    if within_days is not None:
        before = monitor.due_soon_before(today, within_days)
        return and_(not_overdue, col(CaseDeadline.due_on) < before)
    per_rule = [
        and_(
            col(CaseDeadline.rule_id) == rule_id,
            col(CaseDeadline.due_on) < monitor.due_soon_before(today, lead),
        )
        for rule_id, lead in monitor.leads.items()
    ]
    default = and_(
        col(CaseDeadline.rule_id).not_in(list(monitor.leads)),
        col(CaseDeadline.due_on) < monitor.due_soon_before(today, monitor.default_lead),
    )
    return and_(not_overdue, or_(default, *per_rule))


async def list_deadlines(
    session: AsyncSession,
    principal: Principal,
    monitor: Monitor,
    *,
    status: StatusFilter | None,
    within_days: int | None,
    partnership_id: str | None,
    case_id: str | None,
    rule_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[DeadlineItem], int, date]:
    """Deadlines of the caller's partnerships (the operator sees all), earliest due first."""
    if within_days is not None and status != StatusFilter.due_soon:
        raise Unprocessable("within_days only applies to status=due_soon.", field="within_days")
    if rule_id is not None and rule_id not in monitor.intake.rulebook:
        raise Unprocessable(f"unknown deadline rule {rule_id!r}", field="rule_id")
    today = monitor.today()
    unmet = col(DeadlineMet.id).is_(None)
    conditions: list[Any] = []
    if not principal.is_admin:
        conditions.append(col(Case.partnership_id).in_(sorted(principal.partnership_ids)))
    if partnership_id is not None:
        conditions.append(Case.partnership_id == partnership_id)
    if case_id is not None:
        conditions.append(col(CaseDeadline.case_id) == case_id)
    if rule_id is not None:
        conditions.append(CaseDeadline.rule_id == rule_id)
    if status == StatusFilter.met:
        conditions.append(col(DeadlineMet.id).is_not(None))
    elif status == StatusFilter.overdue:
        conditions.extend([unmet, col(CaseDeadline.due_on) < today])
    elif status == StatusFilter.open:
        conditions.extend([unmet, col(CaseDeadline.due_on) >= today])
    elif status == StatusFilter.due_soon:
        conditions.extend([unmet, _due_soon(monitor, today, within_days)])

    joined = select(CaseDeadline, col(Case.partnership_id), col(DeadlineMet.met_on)).join(
        Case, col(Case.id) == col(CaseDeadline.case_id)
    )
    joined = joined.outerjoin(
        DeadlineMet,
        and_(
            col(DeadlineMet.case_id) == col(CaseDeadline.case_id),
            col(DeadlineMet.rule_id) == col(CaseDeadline.rule_id),
        ),
    )
    count = (
        select(func.count())
        .select_from(CaseDeadline)
        .join(Case, col(Case.id) == col(CaseDeadline.case_id))
        .outerjoin(
            DeadlineMet,
            and_(
                col(DeadlineMet.case_id) == col(CaseDeadline.case_id),
                col(DeadlineMet.rule_id) == col(CaseDeadline.rule_id),
            ),
        )
    )
    for condition in conditions:
        joined = joined.where(condition)
        count = count.where(condition)
    total = int((await session.exec(count)).one())
    rows = (
        await session.exec(
            joined.order_by(
                col(CaseDeadline.due_on), col(CaseDeadline.case_id), col(CaseDeadline.position)
            )
            .limit(limit)
            .offset(offset)
        )
    ).all()
    alerts = await _alerts_of(session, [d.case_id for d, _, _ in rows])
    items = [
        deadline_item(monitor, today, d, pid, met_on, alerts.get((d.case_id, d.rule_id), []))
        for d, pid, met_on in rows
    ]
    return items, total, today


async def _alerts_of(
    session: AsyncSession, case_ids: Sequence[str]
) -> dict[tuple[str, str], list[AlertOut]]:
    if not case_ids:
        return {}
    rows = (
        await session.exec(
            select(DeadlineAlert)
            .where(col(DeadlineAlert.case_id).in_(sorted(set(case_ids))))
            .order_by(col(DeadlineAlert.fired_at), col(DeadlineAlert.kind))
        )
    ).all()
    by_deadline: dict[tuple[str, str], list[AlertOut]] = {}
    for a in rows:
        by_deadline.setdefault((a.case_id, a.rule_id), []).append(
            AlertOut(kind=a.kind, due_on=a.due_on, evaluated_on=a.evaluated_on, fired_at=a.fired_at)
        )
    return by_deadline


async def alerts_of(session: AsyncSession, case_id: str, rule_id: str) -> list[AlertOut]:
    return (await _alerts_of(session, [case_id])).get((case_id, rule_id), [])


def deadline_item(
    monitor: Monitor,
    today: date,
    d: CaseDeadline,
    partnership_id: str,
    met_on: date | None,
    alerts: list[AlertOut],
) -> DeadlineItem:
    met = met_on is not None
    return DeadlineItem(
        case_id=d.case_id,
        partnership_id=partnership_id,
        rule_id=d.rule_id,
        title=d.title,
        edition=d.edition,
        starts_on=d.starts_on,
        due_on=d.due_on,
        recipients=list(d.recipients),
        verify=d.verify,
        status=monitor.status(today, d.due_on, met_on),
        due_soon=monitor.is_due_soon(today, d.rule_id, d.due_on, met_on),
        lead_working_days=monitor.lead(d.rule_id),
        working_days_remaining=None if met else monitor.working_days_remaining(today, d.due_on),
        calendar_days_remaining=None if met else (d.due_on - today).days,
        met_on=met_on,
        met_on_time=None if met_on is None else met_on <= d.due_on,
        alerts=alerts,
    )


# -- the rule book ----------------------------------------------------------------------------


def list_rules(
    monitor: Monitor,
    *,
    rule_id: str | None,
    edition: str | None,
    verify: bool | None,
    in_force_on: date | None,
    limit: int,
    offset: int,
) -> tuple[list[RuleOut], int]:
    """Every edition of every rule, as configured now (overrides applied), in rule-book order."""
    if rule_id is not None and rule_id not in monitor.intake.rulebook:
        raise Unprocessable(f"unknown deadline rule {rule_id!r}", field="rule_id")
    rules = [
        r
        for r in monitor.intake.rulebook
        if (rule_id is None or r.id == rule_id)
        and (edition is None or r.edition == edition)
        and (verify is None or r.verify == verify)
        and (in_force_on is None or r.in_force_on(in_force_on))
    ]
    page = rules[offset : offset + limit]
    return [_rule_out(monitor, r) for r in page], len(rules)


def _rule_out(monitor: Monitor, rule: DeadlineRule) -> RuleOut:
    default = next(
        r for r in DEFAULT_RULEBOOK.editions(rule.id) if r.edition == rule.edition
    ).period
    return RuleOut(
        id=rule.id,
        title=rule.title,
        trigger=rule.trigger,
        edition=rule.edition,
        effective_from=rule.effective_from,
        effective_to=rule.effective_to,
        period=rule.period,
        default_period=default,
        unit=rule.unit,
        direction=rule.direction,
        recipients=list(rule.recipients),
        verify=rule.verify,
        overridden=rule.period != default,
        lead_working_days=monitor.lead(rule.id),
        source=rule.source,
        notes=rule.notes,
    )
