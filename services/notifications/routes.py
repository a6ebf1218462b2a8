"""HTTP endpoints of the notifications service: parse, authorise, call queries.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.notifications import queries
from services.notifications.domain import Status, SubjectKind
from services.notifications.schemas import NotificationDetail, NotificationPage
from shared.service import PrincipalDep, SessionDep

router = APIRouter(tags=["notifications"])


@router.get("/notifications", summary="Statutory notifications the caller may see, newest first")
async def list_notifications(
    principal: PrincipalDep,
    session: SessionDep,
    case_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    subject_kind: SubjectKind | None = None,
    status: Status | None = None,
    recipient: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotificationPage:
    items, total = await queries.list_notifications(
        session,
        principal,
        case_id=case_id,
        subject_kind=subject_kind,
        status=status,
        recipient=recipient,
        limit=limit,
        offset=offset,
    )
    return NotificationPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/notifications/{notification_id}",
    summary="One notification: what is sent, and every delivery attempt",
)
async def get_notification(
    notification_id: str, principal: PrincipalDep, session: SessionDep
) -> NotificationDetail:
    return await queries.get_notification(session, principal, notification_id)
