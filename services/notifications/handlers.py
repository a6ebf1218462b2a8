"""Event handlers: turn ``incident.notified`` into one notification per statutory recipient.

Runs in the consumer's transaction (shared.consumer): the rows, their ``notification.queued``
events and the audit entries commit together with the inbox record, and that commit wakes
the delivery worker (``Database.on_commit(DELIVERIES_QUEUED, ...)``).
"""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.domain import (
    DELIVERIES_QUEUED,
    KNOWN_RECIPIENT_NAMES,
    MANUAL,
    NO_RULE,
    SERVICE_ACTOR,
    WEBHOOK,
    notification_id,
    recipients_of,
    rule_for,
    webhook_body,
)
from services.notifications.models import Notification
from services.notifications.settings import RECIPIENT_CODE, NotificationsSettings
from shared.audit import record_audit
from shared.consumer import Handler
from shared.contracts.notifications import NotificationQueued
from shared.contracts.reviews import IncidentNotified
from shared.credentials import CREDENTIAL_HANDLERS
from shared.events import CloudEvent
from shared.outbox import Outbox
from shared.tables import utcnow
from shared.telemetry import current_traceparent

ID_MAX = 64


class UnusableIncident(ValueError):
    """The event cannot be turned into notifications; the consumer dead-letters it."""


def _check(payload: IncidentNotified) -> list[str]:
    if not payload.case_id or len(payload.case_id) > ID_MAX:
        raise UnusableIncident(f"case_id must be 1 to {ID_MAX} characters")
    if not payload.partnership_id or len(payload.partnership_id) > ID_MAX:
        raise UnusableIncident(f"partnership_id must be 1 to {ID_MAX} characters")
    recipients = recipients_of(payload)
    bad = [r for r in recipients if not re.fullmatch(RECIPIENT_CODE, r)]
    if bad:
        raise UnusableIncident(f"recipient codes must match {RECIPIENT_CODE}: {bad!r}")
    return recipients


async def queue_notifications(
    session: AsyncSession,
    outbox: Outbox,
    settings: NotificationsSettings,
    payload: IncidentNotified,
    *,
    traceparent: str | None,
    event_id: str,
) -> list[Notification]:
    """Create the missing notifications of an incident; existing ones are left alone.

    Safe to run again for the same incident (a replayed or re-seeded event under a new id):
    the ids are derived from (case, rule, recipient), so nothing is created twice.
    """
    now = utcnow()
    created: list[Notification] = []
    for recipient in _check(payload):
        rule_id, due_on = rule_for(payload, recipient)
        nid = notification_id(payload.case_id, rule_id, recipient)
        if await session.get(Notification, nid) is not None:
            continue
        config = settings.recipients.get(recipient)
        channel = config.channel if config is not None else MANUAL
        name = config.name if config else KNOWN_RECIPIENT_NAMES.get(recipient, recipient)
        notification = Notification(
            id=nid,
            case_id=payload.case_id,
            partnership_id=payload.partnership_id,
            recipient=recipient,
            recipient_name=name,
            channel=channel,
            rule_id=rule_id,
            due_on=due_on,
            body=webhook_body(
                payload,
                notification=nid,
                recipient=recipient,
                rule_id=rule_id,
                due_on=due_on,
                created_at=now,
            ),
            status="pending" if channel == WEBHOOK else "awaiting_manual",
            next_attempt_at=now if channel == WEBHOOK else None,
            traceparent=traceparent,
            created_at=now,
            updated_at=now,
        )
        session.add(notification)
        if channel == WEBHOOK:
            session.info[DELIVERIES_QUEUED] = True  # wakes the delivery worker on commit
        outbox.emit(
            session,
            NotificationQueued(
                notification_id=nid,
                case_id=payload.case_id,
                partnership_id=payload.partnership_id,
                recipient=recipient,
                channel=channel,
                rule_id=None if rule_id == NO_RULE else rule_id,
                due_on=due_on,
            ),
            partnership_id=payload.partnership_id,
            subject=nid,
        )
        record_audit(
            session,
            SERVICE_ACTOR,
            "queue",
            "notification",
            nid,
            partnership_id=payload.partnership_id,
            detail={
                "case_id": payload.case_id,
                "recipient": recipient,
                "channel": channel,
                "rule_id": rule_id,
                "event_id": event_id,
            },
        )
        created.append(notification)
    return created


def make_handlers(settings: NotificationsSettings) -> dict[str, Handler]:
    """The handlers of this service, bound to its settings and outbox."""
    outbox = Outbox(settings.service_name, settings.topic)

    async def on_incident_notified(
        session: AsyncSession, event: CloudEvent, payload: IncidentNotified
    ) -> None:
        # The consumer's span continues the producer's trace; storing it lets the delivery,
        # possibly much later, continue the same trace.
        await queue_notifications(
            session,
            outbox,
            settings,
            payload,
            traceparent=current_traceparent() or event.traceparent,
            event_id=event.id,
        )

    return {
        IncidentNotified.type_name(): on_incident_notified,  # type: ignore[dict-item]
        **CREDENTIAL_HANDLERS,
    }
