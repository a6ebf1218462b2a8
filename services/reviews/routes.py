"""HTTP endpoints of the reviews service: parse, authorise, call cases.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.reviews import cases
from services.reviews.cases import IntakePolicy
from services.reviews.models import CaseStatus
from services.reviews.schemas import CaseOut, CasePage, IncidentIn
from shared.service import PrincipalDep, RuntimeDep, SessionDep

router = APIRouter(tags=["cases"])


async def get_policy(request: Request) -> IntakePolicy:
    """Async although it awaits nothing: FastAPI runs a plain ``def`` dependency on a worker
    thread, a hop that costs more CPU than the lookup itself."""
    policy: IntakePolicy = request.app.state.intake_policy
    return policy


PolicyDep = Annotated[IntakePolicy, Depends(get_policy)]


@router.post(
    "/incidents",
    status_code=status.HTTP_201_CREATED,
    tags=["incidents"],
    summary="Notify a serious child safeguarding incident (or a death the council must report)",
    responses={
        200: {
            "model": CaseOut,
            "description": "A retry: this client_reference was already accepted",
        }
    },
)
async def notify_incident(
    body: IncidentIn,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    policy: PolicyDep,
    response: Response,
) -> CaseOut:
    case, created = await cases.notify_incident(session, runtime.outbox, principal, policy, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return case


@router.get("/cases", summary="Cases of the caller's partnerships, newest first")
async def list_cases(
    principal: PrincipalDep,
    session: SessionDep,
    status: CaseStatus | None = None,
    partnership_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CasePage:
    items, total = await cases.list_cases(
        session, principal, status=status, partnership_id=partnership_id, limit=limit, offset=offset
    )
    return CasePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/cases/{case_id}", summary="One case with its deadlines")
async def get_case(
    case_id: Annotated[str, Path(max_length=64)], principal: PrincipalDep, session: SessionDep
) -> CaseOut:
    return await cases.get_case(session, principal, case_id)
