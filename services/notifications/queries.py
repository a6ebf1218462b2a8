"""Reads of notifications, scoped to what the caller may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.models import DeliveryAttempt, Notification
from services.notifications.schemas import (
    AttemptOut,
    NotificationDetail,
    NotificationOut,
)
from shared.audit import record_audit
from shared.auth import Principal
from shared.problems import NotFound


def _out(n: Notification) -> NotificationOut:
    return NotificationOut.model_validate(n, from_attributes=True)


async def list_notifications(
    session: AsyncSession,
    principal: Principal,
    *,
    case_id: str | None,
    subject_kind: str | None = None,
    status: str | None,
    recipient: str | None,
    limit: int,
    offset: int,
) -> tuple[list[NotificationOut], int]:
    query = select(Notification)
    count = select(func.count()).select_from(Notification)
    conditions: list[ColumnElement[bool]] = []
    if not principal.is_admin:
        conditions.append(col(Notification.partnership_id).in_(list(principal.partnership_ids)))
    if case_id is not None:
        conditions.append(col(Notification.case_id) == case_id)
    if subject_kind is not None:
        conditions.append(col(Notification.subject_kind) == subject_kind)
    if status is not None:
        conditions.append(col(Notification.status) == status)
    if recipient is not None:
        conditions.append(col(Notification.recipient) == recipient)
    for condition in conditions:
        query = query.where(condition)
        count = count.where(condition)
    total = (await session.exec(count)).one()
    rows = (
        await session.exec(
            query.order_by(col(Notification.created_at).desc(), col(Notification.id))
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [_out(n) for n in rows], int(total)


async def get_notification(
    session: AsyncSession, principal: Principal, notification_id: str
) -> NotificationDetail:
    """One notification with its body and attempts; another partnership's answers 404."""
    n = await session.get(Notification, notification_id)
    if n is None:
        raise NotFound("Notification not found.")
    principal.require_partnership(n.partnership_id, "Notification")
    attempts = (
        await session.exec(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id == n.id)
            .order_by(col(DeliveryAttempt.number))
        )
    ).all()
    # The body is case data: reading it is audited (design.md section 6).
    record_audit(session, principal, "read", "notification", n.id, partnership_id=n.partnership_id)
    return NotificationDetail(
        **_out(n).model_dump(),
        body=n.body,
        attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )
