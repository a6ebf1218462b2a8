"""HTTP routes of deadline monitoring: parse, authorise, call queries.py / operations.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.reviews.deadlines import operations, queries
from services.reviews.deadlines.monitor import Monitor, StatusFilter
from services.reviews.deadlines.schemas import (
    DatesIn,
    DatesOut,
    DeadlineItem,
    DeadlinePage,
    MetIn,
    RulePage,
)
from services.reviews.settings import ReviewsSettings
from shared.audit import record_audit
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["deadlines"])

RULE_ID = r"^[A-Z0-9][A-Z0-9-]{0,39}$"


def get_monitor(request: Request, runtime: RuntimeDep) -> Monitor:
    """The app's intake policy (so the injected clock is shared) with the lead times."""
    settings = runtime.settings
    assert isinstance(settings, ReviewsSettings)
    return Monitor.of(request.app.state.intake_policy, settings)


MonitorDep = Annotated[Monitor, Depends(get_monitor)]
CaseId = Annotated[str, Path(max_length=64)]


@router.get("/deadlines", summary="Deadlines of the caller's partnerships, earliest due first")
async def list_deadlines(
    principal: PrincipalDep,
    session: SessionDep,
    monitor: MonitorDep,
    status: StatusFilter | None = None,
    within_days: Annotated[
        int | None,
        Query(ge=0, le=260, description="status=due_soon: due within N working days"),
    ] = None,
    partnership_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    case_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    rule_id: Annotated[str | None, Query(pattern=RULE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeadlinePage:
    items, total, today = await queries.list_deadlines(
        session,
        principal,
        monitor,
        status=status,
        within_days=within_days,
        partnership_id=partnership_id,
        case_id=case_id,
        rule_id=rule_id,
        limit=limit,
        offset=offset,
    )
    # Every read of a case is audited (issue 4): one entry per case whose deadlines were shown.
    for shown_case, shown_partnership in dict.fromkeys(
        (i.case_id, i.partnership_id) for i in items
    ):
        record_audit(
            session,
            principal,
            "read",
            "case",
            shown_case,
            partnership_id=shown_partnership,
            detail={"via": "deadlines"},
        )
    return DeadlinePage(items=items, total=total, limit=limit, offset=offset, as_of=today)


@router.post(
    "/cases/{case_id}/deadlines/{rule_id}/met",
    status_code=status.HTTP_201_CREATED,
    summary="Record the day a deadline was met",
    responses={200: {"model": DeadlineItem, "description": "A retry: already met on that day"}},
)
async def mark_met(
    case_id: CaseId,
    rule_id: Annotated[str, Path(pattern=RULE_ID)],
    body: MetIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    monitor: MonitorDep,
    response: Response,
) -> DeadlineItem:
    item, created = await operations.mark_met(
        session, runtime.outbox, principal, monitor, case_id, rule_id, body
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return item


@router.patch(
    "/cases/{case_id}/dates",
    summary="Correct the aware or incident date; recomputes the deadlines counted from them",
)
async def correct_dates(
    case_id: CaseId,
    body: DatesIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    monitor: MonitorDep,
) -> DatesOut:
    return await operations.correct_dates(
        session, runtime.outbox, principal, monitor, case_id, body
    )


@router.get("/rules", tags=["rules"], summary="The rule book: every edition of every rule")
async def list_rules(
    principal: PrincipalDep,
    monitor: MonitorDep,
    rule_id: Annotated[str | None, Query(pattern=RULE_ID)] = None,
    edition: Literal["WT2018", "WT2023"] | None = None,
    verify: bool | None = None,
    in_force_on: date | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RulePage:
    items, total = queries.list_rules(
        monitor,
        rule_id=rule_id,
        edition=edition,
        verify=verify,
        in_force_on=in_force_on,
        limit=limit,
        offset=offset,
    )
    return RulePage(items=items, total=total, limit=limit, offset=offset)
