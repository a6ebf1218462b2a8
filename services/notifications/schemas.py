"""Response bodies of the notifications API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime
    status_code: int | None = Field(description="What the endpoint answered; null if nothing")
    error: str | None
    duration_ms: int


class NotificationOut(BaseModel):
    id: str = Field(description="Stable; also the webhook-id of every delivery attempt")
    subject_kind: str = Field(description="case, or arrangements (ARR-DFE: no case)")
    subject_id: str = Field(
        description="The case id, or <partnership id>/v<version> of the published arrangements"
    )
    case_id: str | None = Field(description="Null for a notification about no case")
    partnership_id: str
    recipient: str
    recipient_name: str
    channel: str = Field(description="webhook or manual")
    rule_id: str
    due_on: date | None
    status: str = Field(description="pending, delivered, abandoned or awaiting_manual")
    attempts: int
    next_attempt_at: datetime | None
    first_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime


class NotificationDetail(NotificationOut):
    body: dict[str, Any] = Field(description="Exactly what is sent to the recipient")
    attempt_log: list[AttemptOut] = Field(description="Every delivery attempt, oldest first")


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    limit: int
    offset: int
