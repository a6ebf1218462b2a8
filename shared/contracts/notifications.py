"""Events the notifications service publishes on ``notifications.events``."""

from __future__ import annotations

from datetime import date, datetime

from shared.events import EventPayload


class NotificationQueued(EventPayload):
    """A statutory notification was created for one recipient and is awaiting delivery."""

    event_name = "notification.queued"
    notification_id: str
    case_id: str
    partnership_id: str
    recipient: str
    channel: str
    rule_id: str | None = None
    due_on: date | None = None


class NotificationDelivered(EventPayload):
    event_name = "notification.delivered"
    notification_id: str
    case_id: str
    partnership_id: str
    recipient: str
    delivered_at: datetime
    attempts: int
    on_time: bool | None = None


class NotificationAttemptFailed(EventPayload):
    event_name = "notification.attempt_failed"
    notification_id: str
    case_id: str
    partnership_id: str
    recipient: str
    attempt: int
    error: str
    next_attempt_at: datetime | None = None


class NotificationAbandoned(EventPayload):
    """Retries ran out; a person must act (the escalation path)."""

    event_name = "notification.abandoned"
    notification_id: str
    case_id: str
    partnership_id: str
    recipient: str
    attempts: int
    last_error: str
