"""Event handlers: turn each statutory step into one notification per recipient it must reach.

- ``incident.notified`` (reviews): the recipients in ``notify`` (SIN-5WD and the like).
- ``arrangements.published`` (partners): DfE, with the link (ARR-DFE, domain.md section 2).
- ``rapid_review.submitted`` (reviews): the Panel (RR-15WD).
- ``final_report.shared`` (reviews): the Panel, DfE and Ofsted (LCSPR-PRE-PUB-7WD).
- ``review.published`` (reviews): the Panel (LCSPR-6M).

Runs in the consumer's transaction (shared.consumer): the rows, their ``notification.queued``
events and the audit entries commit together with the inbox record, and that commit wakes
the delivery worker (``Database.on_commit(DELIVERIES_QUEUED, ...)``). Ids are derived from
(subject, rule, recipient): the same step under a new event id queues nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.domain import (
    ARR_DFE,
    ARRANGEMENTS,
    CASE,
    DELIVERIES_QUEUED,
    KNOWN_RECIPIENT_NAMES,
    LCSPR_6M,
    LCSPR_PRE_PUB_7WD,
    MANUAL,
    NO_RULE,
    RR_15WD,
    SERVICE_ACTOR,
    WEBHOOK,
    SubjectKind,
    arrangements_fields,
    arrangements_subject,
    final_report_fields,
    publication_fields,
    rapid_review_fields,
    recipients_of,
    rule_for,
    subject_body,
    subject_notification_id,
    webhook_body,
)
from services.notifications.models import NOTIFICATION_TABLE, Notification
from services.notifications.settings import RECIPIENT_CODE, NotificationsSettings
from shared.audit import record_audit
from shared.consumer import Handler
from shared.contracts.notifications import NotificationQueued
from shared.contracts.partners.arrangements import ArrangementsPublished
from shared.contracts.reviews import IncidentNotified
from shared.contracts.reviews.lifecycle import (
    FinalReportShared,
    RapidReviewSubmitted,
    ReviewPublished,
)
from shared.credentials import CREDENTIAL_HANDLERS
from shared.events import CloudEvent
from shared.outbox import Outbox
from shared.tables import utcnow
from shared.telemetry import current_traceparent

ID_MAX = 64
SUBJECT_MAX = 100  # <partnership id>/v<version> of arrangements (the column's length)


class UnusableIncident(ValueError):
    """The event cannot be turned into notifications; the consumer dead-letters it."""


# The name says what it is for any event, not only an incident.
UnusableEvent = UnusableIncident


def _check_ids(**ids: str) -> None:
    for name, value in ids.items():
        if not value or len(value) > ID_MAX:
            raise UnusableEvent(f"{name} must be 1 to {ID_MAX} characters")


def _check_codes(recipients: list[str]) -> list[str]:
    bad = [r for r in recipients if not re.fullmatch(RECIPIENT_CODE, r)]
    if bad:
        raise UnusableEvent(f"recipient codes must match {RECIPIENT_CODE}: {bad!r}")
    return recipients


def _check(payload: IncidentNotified) -> list[str]:
    _check_ids(case_id=payload.case_id, partnership_id=payload.partnership_id)
    return _check_codes(recipients_of(payload))


@dataclass(frozen=True)
class Subject:
    """What a notification is about, and whose it is (the API scopes on the partnership)."""

    kind: SubjectKind
    id: str
    partnership_id: str
    case_id: str | None


# (notification id, recipient, rule id, due date, created at) -> the document sent
BodyMaker = Callable[[str, str, str, date | None, datetime], dict[str, Any]]


@dataclass(frozen=True)
class _Queueing:
    """Everything the notifications of one event share."""

    session: AsyncSession
    outbox: Outbox
    settings: NotificationsSettings
    subject: Subject
    traceparent: str | None
    event_id: str
    now: datetime


async def _queue(
    q: _Queueing,
    wanted: list[tuple[str, str, date | None]],
    body: BodyMaker,
) -> list[str]:
    """The notifications of ``wanted`` (recipient, rule id, due date) that do not exist yet:
    rows, events, audit entries. Answers the ids created.

    ``body`` builds the document (it carries the notification's own id). One query finds the
    existing ones and one executemany inserts the rest (an ORM object per row cost several
    times more CPU, measured with ``make bench``).
    """
    subject = q.subject
    ids = {
        (recipient, rule_id): subject_notification_id(subject.kind, subject.id, rule_id, recipient)
        for recipient, rule_id, _ in wanted
    }
    existing = set(
        (
            await q.session.exec(
                select(Notification.id).where(col(Notification.id).in_(list(ids.values())))
            )
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for recipient, rule_id, due_on in wanted:
        nid = ids[(recipient, rule_id)]
        if nid in existing:
            continue
        existing.add(nid)
        rows.append(_queue_one(q, nid, recipient, rule_id, due_on, body))
    if rows:
        conn = await q.session.connection()
        await conn.execute(NOTIFICATION_TABLE.insert(), rows)
    return [row["id"] for row in rows]


def _queue_one(
    q: _Queueing,
    nid: str,
    recipient: str,
    rule_id: str,
    due_on: date | None,
    body: BodyMaker,
) -> dict[str, Any]:
    """One new notification's row; its event and audit entry are added to the transaction."""
    subject = q.subject
    config = q.settings.recipients.get(recipient)
    channel = config.channel if config is not None else MANUAL
    name = config.name if config else KNOWN_RECIPIENT_NAMES.get(recipient, recipient)
    row: dict[str, Any] = {
        "id": nid,
        "subject_kind": subject.kind,
        "subject_id": subject.id,
        "case_id": subject.case_id,
        "partnership_id": subject.partnership_id,
        "recipient": recipient,
        "recipient_name": name,
        "channel": channel,
        "rule_id": rule_id,
        "due_on": due_on,
        "body": body(nid, recipient, rule_id, due_on, q.now),
        "status": "pending" if channel == WEBHOOK else "awaiting_manual",
        "attempts": 0,
        "next_attempt_at": q.now if channel == WEBHOOK else None,
        "first_attempt_at": None,
        "delivered_at": None,
        "last_error": None,
        "traceparent": q.traceparent,
        "claimed_until": None,
        "claim_token": None,
        "created_at": q.now,
        "updated_at": q.now,
    }
    if channel == WEBHOOK:
        q.session.info[DELIVERIES_QUEUED] = True  # wakes the delivery worker on commit
    q.outbox.emit(
        q.session,
        NotificationQueued(
            notification_id=nid,
            # The contract requires a case id: a notification about no case sends "" (see
            # README, "Events"), which no case has.
            case_id=subject.case_id or "",
            partnership_id=subject.partnership_id,
            recipient=recipient,
            channel=channel,
            rule_id=None if rule_id == NO_RULE else rule_id,
            due_on=due_on,
        ),
        partnership_id=subject.partnership_id,
        subject=nid,
    )
    detail: dict[str, Any] = {
        "case_id": subject.case_id,
        "recipient": recipient,
        "channel": channel,
        "rule_id": rule_id,
        "event_id": q.event_id,
    }
    if subject.kind != CASE:
        detail.update(subject_kind=subject.kind, subject_id=subject.id)
    record_audit(
        q.session,
        SERVICE_ACTOR,
        "queue",
        "notification",
        nid,
        partnership_id=subject.partnership_id,
        detail=detail,
    )
    return row


async def queue_notifications(
    session: AsyncSession,
    outbox: Outbox,
    settings: NotificationsSettings,
    payload: IncidentNotified,
    *,
    traceparent: str | None,
    event_id: str,
) -> list[str]:
    """Create the missing notifications of an incident; existing ones are left alone.

    Safe to run again for the same incident (a replayed or re-seeded event under a new id):
    the ids are derived from (case, rule, recipient), so nothing is created twice.
    """
    q = _Queueing(
        session,
        outbox,
        settings,
        Subject(CASE, payload.case_id, payload.partnership_id, payload.case_id),
        traceparent,
        event_id,
        utcnow(),
    )

    def incident_body(
        nid: str, recipient: str, rule_id: str, due_on: date | None, at: datetime
    ) -> dict[str, Any]:
        return webhook_body(
            payload,
            notification=nid,
            recipient=recipient,
            rule_id=rule_id,
            due_on=due_on,
            created_at=at,
        )

    wanted = []
    for recipient in _check(payload):
        rule_id, due_on = rule_for(payload, recipient)
        wanted.append((recipient, rule_id, due_on))
    return await _queue(q, wanted, incident_body)


async def queue_rule_notifications(
    session: AsyncSession,
    outbox: Outbox,
    settings: NotificationsSettings,
    *,
    subject: Subject,
    rule_id: str,
    due_on: date | None,
    body_type: str,
    fields: dict[str, Any],
    recipients: list[str],
    traceparent: str | None,
    event_id: str,
) -> list[str]:
    """The missing notifications of one statutory step under ``rule_id``, one per recipient.

    ``fields`` is the subject's allow-listed part of the document (``domain.*_fields``).
    """
    _check_ids(partnership_id=subject.partnership_id)
    if not subject.id or len(subject.id) > SUBJECT_MAX:
        raise UnusableEvent(f"subject id must be 1 to {SUBJECT_MAX} characters")
    q = _Queueing(session, outbox, settings, subject, traceparent, event_id, utcnow())

    def body(
        nid: str, recipient: str, rule_id: str, due_on: date | None, at: datetime
    ) -> dict[str, Any]:
        return subject_body(
            body_type,
            notification=nid,
            recipient=recipient,
            rule_id=rule_id,
            due_on=due_on,
            created_at=at,
            subject=fields,
        )

    wanted = [(r, rule_id, due_on) for r in _check_codes(list(dict.fromkeys(recipients)))]
    return await _queue(q, wanted, body)


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

    def trace(event: CloudEvent) -> str | None:
        return current_traceparent() or event.traceparent

    async def on_arrangements_published(
        session: AsyncSession, event: CloudEvent, payload: ArrangementsPublished
    ) -> None:
        # ARR-DFE (domain.md section 2): tell DfE, sending the published link. Each published
        # version is its own subject: a republication tells DfE again, a replay does not.
        _check_ids(partnership_id=payload.partnership_id)
        subject = arrangements_subject(payload.partnership_id, payload.arrangements_version)
        await queue_rule_notifications(
            session,
            outbox,
            settings,
            subject=Subject(ARRANGEMENTS, subject, payload.partnership_id, None),
            rule_id=ARR_DFE,
            due_on=None,  # domain.md gives no period for telling DfE, only for implementing
            body_type=ArrangementsPublished.event_name,
            fields=arrangements_fields(payload),
            recipients=settings.recipients_for(ARR_DFE),
            traceparent=trace(event),
            event_id=event.id,
        )

    def case_subject(case_id: str, partnership_id: str) -> Subject:
        _check_ids(case_id=case_id)
        return Subject(CASE, case_id, partnership_id, case_id)

    async def on_rapid_review_submitted(
        session: AsyncSession, event: CloudEvent, payload: RapidReviewSubmitted
    ) -> None:
        # RR-15WD: the rapid review (and its decision) is sent to the Panel.
        await queue_rule_notifications(
            session,
            outbox,
            settings,
            subject=case_subject(payload.case_id, payload.partnership_id),
            rule_id=RR_15WD,
            due_on=payload.due_on,
            body_type=RapidReviewSubmitted.event_name,
            fields=rapid_review_fields(payload),
            recipients=settings.recipients_for(RR_15WD),
            traceparent=trace(event),
            event_id=event.id,
        )

    async def on_final_report_shared(
        session: AsyncSession, event: CloudEvent, payload: FinalReportShared
    ) -> None:
        # LCSPR-PRE-PUB-7WD: the Panel, DfE and Ofsted. The event's own recipients are the
        # edition of the rule the case runs under (a case keeps its rule version); the
        # setting is the fallback when it names none.
        await queue_rule_notifications(
            session,
            outbox,
            settings,
            subject=case_subject(payload.case_id, payload.partnership_id),
            rule_id=LCSPR_PRE_PUB_7WD,
            due_on=payload.due_on,
            body_type=FinalReportShared.event_name,
            fields=final_report_fields(payload),
            recipients=[r.strip() for r in payload.recipients if r.strip()]
            or settings.recipients_for(LCSPR_PRE_PUB_7WD),
            traceparent=trace(event),
            event_id=event.id,
        )

    async def on_review_published(
        session: AsyncSession, event: CloudEvent, payload: ReviewPublished
    ) -> None:
        # Publication closes LCSPR-6M: the Panel is told, with the address.
        await queue_rule_notifications(
            session,
            outbox,
            settings,
            subject=case_subject(payload.case_id, payload.partnership_id),
            rule_id=LCSPR_6M,
            due_on=payload.lcspr_due_on,
            body_type=ReviewPublished.event_name,
            fields=publication_fields(payload),
            recipients=settings.recipients_for(LCSPR_6M),
            traceparent=trace(event),
            event_id=event.id,
        )

    return {
        IncidentNotified.type_name(): on_incident_notified,  # type: ignore[dict-item]
        ArrangementsPublished.type_name(): on_arrangements_published,  # type: ignore[dict-item]
        RapidReviewSubmitted.type_name(): on_rapid_review_submitted,  # type: ignore[dict-item]
        FinalReportShared.type_name(): on_final_report_shared,  # type: ignore[dict-item]
        ReviewPublished.type_name(): on_review_published,  # type: ignore[dict-item]
        **CREDENTIAL_HANDLERS,
    }
