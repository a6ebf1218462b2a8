"""Event handlers: each folds one event into the read models, in the consumer's transaction.

Idempotent by design as well as through the shared inbox: every write is an upsert keyed by
the producer's id, counts are computed when read (never incremented here), and a status only
moves forward (:func:`services.reporting.readmodel.advance`). So a replayed event, or one
redelivered under a new event id, changes nothing. Topics are not ordered with respect to each
other, so each handler creates what it refers to if it is missing (a partnership stub) or stands
alone (notification rows are joined to their case when read).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.reporting.models import CaseView, NotificationView, PartnershipView
from services.reporting.readmodel import (
    ABANDONED,
    DELIVERED,
    NOTIFIED,
    QUEUED,
    RETRYING,
    advance,
)
from shared.consumer import Handler
from shared.contracts.notifications import (
    NotificationAbandoned,
    NotificationAttemptFailed,
    NotificationDelivered,
    NotificationQueued,
)
from shared.contracts.partners import PartnershipCreated
from shared.contracts.reviews import IncidentNotified
from shared.credentials import CREDENTIAL_HANDLERS
from shared.events import CloudEvent
from shared.tables import utcnow

log = logging.getLogger("masa.reporting")

NotificationEvent = (
    NotificationQueued | NotificationDelivered | NotificationAttemptFailed | NotificationAbandoned
)


async def _ensure_partnership(session: AsyncSession, partnership_id: str) -> PartnershipView:
    """The partnership's row, inserted as a stub if no event has named it yet.

    INSERT .. ON CONFLICT DO NOTHING: two consumers (different topics, different partitions)
    may both be the first to mention a partnership. Looked up first: it almost always exists.
    """
    existing = await session.get(PartnershipView, partnership_id)
    if existing is not None:
        return existing
    now = utcnow()
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    await session.exec(
        insert(PartnershipView)
        .values(
            partnership_id=partnership_id,
            councils=[],
            partners=[],
            first_seen_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["partnership_id"])
    )
    row = await session.get(PartnershipView, partnership_id)
    assert row is not None  # just inserted, or there already
    return row


async def on_partnership_created(
    session: AsyncSession, event: CloudEvent, payload: PartnershipCreated
) -> None:
    row = await _ensure_partnership(session, payload.partnership_id)
    row.name = payload.name
    row.status = payload.status
    row.effective_from = payload.effective_from
    row.councils = [c.model_dump(mode="json") for c in payload.councils]
    row.partners = [p.model_dump(mode="json") for p in payload.partners]
    row.updated_at = utcnow()
    session.add(row)


async def on_incident_notified(
    session: AsyncSession, event: CloudEvent, payload: IncidentNotified
) -> None:
    await _ensure_partnership(session, payload.partnership_id)
    row = await session.get(CaseView, payload.case_id)
    if row is None:
        row = CaseView(
            case_id=payload.case_id,
            partnership_id=payload.partnership_id,
            council_ons_code=payload.council_ons_code,
            kind=payload.kind,
            nature=payload.nature,
            status=NOTIFIED,
            aware_on=payload.aware_on,
            notified_at=payload.notified_at,
        )
    elif row.partnership_id != payload.partnership_id:
        log.warning(
            "ignoring %s: case %s belongs to another partnership", event.id, payload.case_id
        )
        return
    # The facts are replaced wholesale (the same event replayed writes the same values); the
    # status is left alone, so a replayed notification never reopens a case moved on since.
    row.council_ons_code = payload.council_ons_code
    row.kind = payload.kind
    row.nature = payload.nature
    row.incident_date = payload.incident_date
    row.aware_on = payload.aware_on
    row.notified_at = payload.notified_at
    row.needs_rapid_review = payload.needs_rapid_review
    row.children_count = len(payload.children)
    row.deadlines = [d.model_dump(mode="json") for d in payload.deadlines]
    row.notify = list(payload.notify)
    row.involved_partnership_ids = list(payload.involved_partnership_ids)
    row.updated_at = utcnow()
    session.add(row)


async def _notification(
    session: AsyncSession, event: CloudEvent, payload: NotificationEvent
) -> NotificationView | None:
    """The notification's row (created on whichever of its events arrives first)."""
    await _ensure_partnership(session, payload.partnership_id)
    row = await session.get(NotificationView, payload.notification_id)
    if row is None:
        return NotificationView(
            notification_id=payload.notification_id,
            case_id=payload.case_id,
            partnership_id=payload.partnership_id,
            recipient=payload.recipient,
            status=QUEUED,
        )
    if row.partnership_id != payload.partnership_id:
        log.warning(
            "ignoring %s: notification %s belongs to another partnership",
            event.id,
            payload.notification_id,
        )
        return None
    return row


def _save(session: AsyncSession, row: NotificationView, **changes: Any) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.add(row)


async def on_notification_queued(
    session: AsyncSession, event: CloudEvent, payload: NotificationQueued
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    _save(
        session,
        row,
        channel=payload.channel,
        rule_id=payload.rule_id,
        due_on=payload.due_on,
        queued_at=row.queued_at or event.time,
        status=advance(row.status, QUEUED),
    )


async def on_notification_attempt_failed(
    session: AsyncSession, event: CloudEvent, payload: NotificationAttemptFailed
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    changes: dict[str, Any] = {
        "status": advance(row.status, RETRYING),
        "attempts": max(row.attempts, payload.attempt),
    }
    if payload.attempt >= row.last_error_attempt:
        changes.update(
            last_error=payload.error,
            last_error_attempt=payload.attempt,
            next_attempt_at=payload.next_attempt_at,
        )
    _save(session, row, **changes)


async def on_notification_delivered(
    session: AsyncSession, event: CloudEvent, payload: NotificationDelivered
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    first = row.delivered_at is None or payload.delivered_at < row.delivered_at
    _save(
        session,
        row,
        status=advance(row.status, DELIVERED),
        attempts=max(row.attempts, payload.attempts),
        delivered_at=payload.delivered_at if first else row.delivered_at,
        on_time=payload.on_time if first and payload.on_time is not None else row.on_time,
        next_attempt_at=None,
    )


async def on_notification_abandoned(
    session: AsyncSession, event: CloudEvent, payload: NotificationAbandoned
) -> None:
    row = await _notification(session, event, payload)
    if row is None:
        return
    changes: dict[str, Any] = {
        "status": advance(row.status, ABANDONED),
        "attempts": max(row.attempts, payload.attempts),
        "next_attempt_at": None,
    }
    if payload.attempts >= row.last_error_attempt:
        changes.update(last_error=payload.last_error, last_error_attempt=payload.attempts)
    _save(session, row, **changes)


HANDLERS: dict[str, Handler] = {
    **CREDENTIAL_HANDLERS,
    PartnershipCreated.type_name(): on_partnership_created,  # type: ignore[dict-item]
    IncidentNotified.type_name(): on_incident_notified,  # type: ignore[dict-item]
    NotificationQueued.type_name(): on_notification_queued,  # type: ignore[dict-item]
    NotificationAttemptFailed.type_name(): on_notification_attempt_failed,  # type: ignore[dict-item]
    NotificationDelivered.type_name(): on_notification_delivered,  # type: ignore[dict-item]
    NotificationAbandoned.type_name(): on_notification_abandoned,  # type: ignore[dict-item]
}
