"""Relevant agencies: naming, changing, removing and listing them, and the review cadence.

Rules (domain.md section 1, issue 3): an agency's category comes from the SI 2018/789 schedule
and must be valid on the day the agency is named; the partners say why they chose it; the
partners decide how often the list is reviewed (a cadence in months, default
``DEFAULT_CADENCE_MONTHS``), and each agency's next review falls that many months after its
last review (or after it was named). Removing an agency keeps its row and history.

Each write stores its rows, an audit entry and its event in the caller's transaction.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.partners.agencies import categories
from services.partners.agencies.categories import AgencyCategory
from services.partners.agencies.models import AgencyReviewPolicy, RelevantAgency
from services.partners.agencies.schemas import (
    AgencyIn,
    AgencyOut,
    AgencyPatch,
    Contribution,
    ReviewPolicyIn,
    ReviewPolicyOut,
)
from services.partners.registry import partnership_for
from shared.audit import record_audit
from shared.auth import Principal
from shared.contracts.partners.agencies import (
    AgencyContribution,
    AgencyReviewCadenceChanged,
    RelevantAgencyNamed,
    RelevantAgencyRemoved,
    RelevantAgencyState,
    RelevantAgencyUpdated,
)
from shared.db import fetch_page
from shared.outbox import Outbox
from shared.problems import Conflict, NotFound, Unprocessable
from shared.tables import utcnow

DEFAULT_CADENCE_MONTHS = 12
FLAGS = ("education_setting", "youth_custody_or_residential", "designated_health_professionals")


def today() -> date:
    return utcnow().date()


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; the 31st becomes the last day of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_review_due(agency: RelevantAgency, cadence_months: int) -> date:
    return add_months(agency.last_reviewed_on or agency.named_on, cadence_months)


def category_on(code: str, day: date, field: str = "category") -> AgencyCategory:
    """The category if it exists in the schedule and is valid on ``day``; 422 otherwise."""
    found = categories.category(code)
    if found is None:
        raise Unprocessable(
            f"'{code}' is not a category of relevant agency (GET /relevant-agency-categories).",
            field=field,
        )
    if not found.valid_on(day):
        raise Unprocessable(
            f"The category '{code}' is valid from {found.valid_from}"
            + (f" to {found.valid_to}" if found.valid_to else "")
            + f"; it cannot be used for an agency named on {day}.",
            field=field,
        )
    return found


# ---- the review cadence -----------------------------------------------------------------------


async def cadence_for(session: AsyncSession, partnership_id: str) -> int:
    policy = await session.get(AgencyReviewPolicy, partnership_id)
    return policy.cadence_months if policy else DEFAULT_CADENCE_MONTHS


async def get_policy(
    session: AsyncSession, principal: Principal, partnership_id: str
) -> ReviewPolicyOut:
    await partnership_for(session, principal, partnership_id)
    return _policy_out(partnership_id, await session.get(AgencyReviewPolicy, partnership_id))


def _policy_out(partnership_id: str, policy: AgencyReviewPolicy | None) -> ReviewPolicyOut:
    if policy is None:
        return ReviewPolicyOut(
            partnership_id=partnership_id,
            cadence_months=DEFAULT_CADENCE_MONTHS,
            is_default=True,
            updated_by=None,
            updated_at=None,
        )
    return ReviewPolicyOut(
        partnership_id=partnership_id,
        cadence_months=policy.cadence_months,
        is_default=False,
        updated_by=policy.updated_by,
        updated_at=policy.updated_at,
    )


async def set_policy(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: ReviewPolicyIn,
) -> ReviewPolicyOut:
    """Change the cadence and move every current agency's next review date with it."""
    await partnership_for(session, principal, partnership_id)
    policy = await session.get(AgencyReviewPolicy, partnership_id)
    previous = policy.cadence_months if policy else DEFAULT_CADENCE_MONTHS
    actor = f"{principal.kind}:{principal.id}"
    if policy is None:
        policy = AgencyReviewPolicy(
            partnership_id=partnership_id, cadence_months=body.cadence_months, updated_by=actor
        )
    elif previous == body.cadence_months:
        return _policy_out(partnership_id, policy)
    policy.cadence_months, policy.updated_by, policy.updated_at = (
        body.cadence_months,
        actor,
        utcnow(),
    )
    session.add(policy)
    if previous != body.cadence_months:
        agencies = (
            await session.exec(
                select(RelevantAgency)
                .where(RelevantAgency.partnership_id == partnership_id)
                .where(col(RelevantAgency.removed_on).is_(None))
            )
        ).all()
        for agency in agencies:
            agency.next_review_due = next_review_due(agency, body.cadence_months)
            session.add(agency)
        outbox.emit(
            session,
            AgencyReviewCadenceChanged(
                partnership_id=partnership_id,
                cadence_months=body.cadence_months,
                previous_cadence_months=previous,
            ),
            partnership_id=partnership_id,
            subject=partnership_id,
        )
    record_audit(
        session,
        principal,
        "set_review_cadence",
        "agency_review_policy",
        partnership_id,
        partnership_id=partnership_id,
        detail={"before": previous, "after": body.cadence_months},
    )
    await session.flush()
    return _policy_out(partnership_id, policy)


# ---- agencies ---------------------------------------------------------------------------------


def _state(agency: RelevantAgency) -> RelevantAgencyState:
    cat = categories.BY_CODE[agency.category]
    return RelevantAgencyState(
        agency_id=agency.id,
        name=agency.name,
        category=agency.category,
        heading=cat.heading,
        reason=agency.reason,
        contributions=[AgencyContribution(**c) for c in agency.contributions],
        education_setting=agency.education_setting,
        youth_custody_or_residential=agency.youth_custody_or_residential,
        designated_health_professionals=agency.designated_health_professionals,
        named_on=agency.named_on,
        last_reviewed_on=agency.last_reviewed_on,
        next_review_due=agency.next_review_due,
        removed_on=agency.removed_on,
    )


def _out(agency: RelevantAgency, cadence_months: int) -> AgencyOut:
    cat = categories.BY_CODE[agency.category]
    return AgencyOut(
        id=agency.id,
        partnership_id=agency.partnership_id,
        name=agency.name,
        category=agency.category,
        category_label=cat.label,
        heading=cat.heading,
        reason=agency.reason,
        contributions=[Contribution(**c) for c in agency.contributions],
        education_setting=agency.education_setting,
        youth_custody_or_residential=agency.youth_custody_or_residential,
        designated_health_professionals=agency.designated_health_professionals,
        named_on=agency.named_on,
        last_reviewed_on=agency.last_reviewed_on,
        review_cadence_months=cadence_months,
        next_review_due=agency.next_review_due,
        review_overdue=agency.removed_on is None and agency.next_review_due < today(),
        removed_on=agency.removed_on,
        removal_reason=agency.removal_reason,
        created_at=agency.created_at,
        updated_at=agency.updated_at,
    )


def _flags(cat: AgencyCategory, sent: dict[str, Any], current: dict[str, bool]) -> dict[str, bool]:
    """Flags the category implies are set and cannot be cleared; others are as sent, or kept."""
    flags: dict[str, bool] = {}
    for flag in FLAGS:
        implied = bool(getattr(cat, flag))
        value = sent.get(flag)
        if implied and value is False:
            raise Unprocessable(
                f"The category '{cat.code}' implies {flag}; it cannot be false.", field=flag
            )
        flags[flag] = implied or bool(value if value is not None else current.get(flag, False))
    return flags


def _check_dates(named_on: date, last_reviewed_on: date | None) -> None:
    if last_reviewed_on is None:
        return
    if last_reviewed_on < named_on:
        raise Unprocessable(
            f"A review cannot predate the agency being named ({named_on}).",
            field="last_reviewed_on",
        )
    if last_reviewed_on > today():
        raise Unprocessable("A review date cannot be in the future.", field="last_reviewed_on")


async def _refuse_duplicate(
    session: AsyncSession, partnership_id: str, name: str, category: str, except_id: str = ""
) -> None:
    clash = (
        await session.exec(
            select(RelevantAgency.id)
            .where(RelevantAgency.partnership_id == partnership_id)
            .where(func.lower(RelevantAgency.name) == name.lower())
            .where(RelevantAgency.category == category)
            .where(col(RelevantAgency.removed_on).is_(None))
            .where(RelevantAgency.id != except_id)
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"'{name}' is already a relevant agency of this partnership under '{category}'.",
            field="name",
        )


async def name_agency(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    body: AgencyIn,
) -> AgencyOut:
    await partnership_for(session, principal, partnership_id)
    cat = category_on(body.category, body.named_on)
    _check_dates(body.named_on, body.last_reviewed_on)
    sent = body.model_dump(include=set(FLAGS))
    flags = _flags(cat, sent, {})
    await _refuse_duplicate(session, partnership_id, body.name, body.category)
    cadence = await cadence_for(session, partnership_id)
    agency = RelevantAgency(
        partnership_id=partnership_id,
        name=body.name,
        category=body.category,
        reason=body.reason,
        contributions=[c.model_dump() for c in body.contributions],
        named_on=body.named_on,
        last_reviewed_on=body.last_reviewed_on,
        next_review_due=add_months(body.last_reviewed_on or body.named_on, cadence),
        education_setting=flags["education_setting"],
        youth_custody_or_residential=flags["youth_custody_or_residential"],
        designated_health_professionals=flags["designated_health_professionals"],
    )
    session.add(agency)
    await session.flush()
    outbox.emit(
        session,
        RelevantAgencyNamed(partnership_id=partnership_id, agency=_state(agency)),
        partnership_id=partnership_id,
        subject=agency.id,
    )
    record_audit(
        session,
        principal,
        "name",
        "relevant_agency",
        agency.id,
        partnership_id=partnership_id,
        detail={"name": agency.name, "category": agency.category},
    )
    return _out(agency, cadence)


async def _agency(
    session: AsyncSession, principal: Principal, partnership_id: str, agency_id: str
) -> RelevantAgency:
    await partnership_for(session, principal, partnership_id)
    agency = await session.get(RelevantAgency, agency_id)
    if agency is None or agency.partnership_id != partnership_id:
        raise NotFound("Relevant agency not found.")
    return agency


async def get_agency(
    session: AsyncSession, principal: Principal, partnership_id: str, agency_id: str
) -> AgencyOut:
    agency = await _agency(session, principal, partnership_id, agency_id)
    return _out(agency, await cadence_for(session, partnership_id))


async def update_agency(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    agency_id: str,
    patch: AgencyPatch,
) -> AgencyOut:
    """Partial update; the category is checked again against the (new) naming date, and the
    next review date follows a new review or naming date."""
    agency = await _agency(session, principal, partnership_id, agency_id)
    cadence = await cadence_for(session, partnership_id)
    if agency.removed_on is not None:
        raise Conflict(f"The agency was removed on {agency.removed_on}; it cannot change.")
    sent = patch.model_dump(exclude_unset=True)
    for required in ("name", "category", "reason", "named_on", "contributions"):
        if required in sent and sent[required] is None:
            raise Unprocessable(f"An agency must keep its {required}.", field=required)
    named_on = sent.get("named_on", agency.named_on)
    code = sent.get("category", agency.category)
    cat = category_on(code, named_on)
    _check_dates(named_on, sent.get("last_reviewed_on", agency.last_reviewed_on))
    old_cat = categories.BY_CODE[agency.category]
    kept = {f: getattr(agency, f) and not getattr(old_cat, f) for f in FLAGS}
    new_values: dict[str, Any] = {k: v for k, v in sent.items() if k not in FLAGS}
    new_values.update(_flags(cat, {f: sent.get(f) for f in FLAGS}, kept))
    if "name" in sent or "category" in sent:
        await _refuse_duplicate(
            session, partnership_id, sent.get("name", agency.name), code, agency.id
        )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in new_values.items():
        if getattr(agency, field) != value:
            before[field], after[field] = getattr(agency, field), value
            setattr(agency, field, value)
    if not after:
        return _out(agency, cadence)
    agency.next_review_due = next_review_due(agency, cadence)
    agency.updated_at = utcnow()
    session.add(agency)
    outbox.emit(
        session,
        RelevantAgencyUpdated(
            partnership_id=partnership_id, agency=_state(agency), changed=sorted(after)
        ),
        partnership_id=partnership_id,
        subject=agency.id,
    )
    record_audit(
        session,
        principal,
        "update",
        "relevant_agency",
        agency.id,
        partnership_id=partnership_id,
        detail={"before": _jsonable(before), "after": _jsonable(after)},
    )
    return _out(agency, cadence)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}


async def remove_agency(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    partnership_id: str,
    agency_id: str,
    removed_on: date | None,
    reason: str,
) -> AgencyOut:
    """Soft delete: the partners stop working with the agency from ``removed_on``."""
    agency = await _agency(session, principal, partnership_id, agency_id)
    if agency.removed_on is not None:
        raise Conflict(f"The agency was already removed on {agency.removed_on}.")
    day = removed_on or today()
    if day < agency.named_on:
        raise Unprocessable(
            f"An agency cannot be removed before it was named ({agency.named_on}).",
            field="removed_on",
        )
    agency.removed_on, agency.removal_reason, agency.updated_at = day, reason, utcnow()
    session.add(agency)
    outbox.emit(
        session,
        RelevantAgencyRemoved(
            partnership_id=partnership_id, agency_id=agency.id, removed_on=day, reason=reason
        ),
        partnership_id=partnership_id,
        subject=agency.id,
    )
    record_audit(
        session,
        principal,
        "remove",
        "relevant_agency",
        agency.id,
        partnership_id=partnership_id,
        detail={"removed_on": day.isoformat(), "reason": reason},
    )
    return _out(agency, await cadence_for(session, partnership_id))


async def list_agencies(
    session: AsyncSession,
    principal: Principal,
    partnership_id: str,
    *,
    limit: int,
    offset: int,
    category: str | None = None,
    heading: str | None = None,
    name: str | None = None,
    flags: dict[str, bool | None] | None = None,
    include_removed: bool = False,
    review_due_within_days: int | None = None,
    as_of: date | None = None,
) -> tuple[list[AgencyOut], int]:
    """Agencies of a partnership. ``review_due_within_days`` keeps the current agencies whose
    review is overdue or falls within that many days of ``as_of`` (today by default), soonest
    first."""
    await partnership_for(session, principal, partnership_id)
    where: list[ColumnElement[bool]] = [col(RelevantAgency.partnership_id) == partnership_id]
    if category is not None:
        where.append(col(RelevantAgency.category) == category)
    if heading is not None:
        codes = [c.code for c in categories.CATEGORIES if c.heading == heading]
        where.append(col(RelevantAgency.category).in_(codes))
    if name:
        where.append(func.lower(RelevantAgency.name).contains(name.lower()))
    for flag, value in (flags or {}).items():
        if value is not None:
            where.append(getattr(RelevantAgency, flag) == value)
    if not include_removed or review_due_within_days is not None:
        where.append(col(RelevantAgency.removed_on).is_(None))
    order: list[Any] = [col(RelevantAgency.name), col(RelevantAgency.id)]
    if review_due_within_days is not None:
        horizon = (as_of or today()).toordinal() + review_due_within_days
        where.append(col(RelevantAgency.next_review_due) <= date.fromordinal(horizon))
        order.insert(0, col(RelevantAgency.next_review_due))
    rows, total = await fetch_page(
        session, RelevantAgency, where, order, limit=limit, offset=offset
    )
    cadence = await cadence_for(session, partnership_id)
    return [_out(r, cadence) for r in rows], total
