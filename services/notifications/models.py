"""Tables of the notifications service (its own metadata; shared tables live in shared.tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.crypto import EncryptedJSON
from shared.db import new_metadata_base
from shared.tables import table_of, utc_field

if TYPE_CHECKING:  # mypy cannot take a base class from a function's return value
    NotificationsTable = SQLModel
else:
    NotificationsTable = new_metadata_base("NotificationsTable")


class Notification(NotificationsTable, table=True):
    """One statutory notification: one subject, one rule, one recipient, for good.

    The subject is a case (``subject_kind`` "case", ``subject_id`` = ``case_id``) or something
    of the partnership's with no case (its published arrangements: ``case_id`` is null). The
    id is derived from (subject, rule_id, recipient) (:func:`domain.subject_notification_id`),
    so a replayed or re-seeded event finds the row it already created; the unique constraint
    holds even if two instances race on the same subject. ``claimed_until``/``claim_token`` are
    the delivery lease: while it runs no other instance picks the row up.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint(
            "subject_kind", "subject_id", "rule_id", "recipient", name="uq_notification_subject"
        ),
        Index("ix_notification_due", "status", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    subject_kind: str = Field(default="case", max_length=20)
    subject_id: str = Field(max_length=100)
    case_id: str | None = Field(default=None, index=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    recipient: str = Field(max_length=40)
    recipient_name: str = Field(max_length=200)
    channel: str = Field(max_length=20)
    rule_id: str = Field(max_length=40)
    due_on: date | None = None
    # The webhook document; encrypted at rest (it carries the children's references).
    body: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = utc_field(nullable=True)
    first_attempt_at: datetime | None = utc_field(nullable=True)
    delivered_at: datetime | None = utc_field(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)
    traceparent: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = utc_field(nullable=True)
    claim_token: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class DeliveryAttempt(NotificationsTable, table=True):
    """Every attempt, successful or not: the proof of when each duty was (or was not) met."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (
        UniqueConstraint("notification_id", "number", name="uq_delivery_attempt_number"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    notification_id: str = Field(foreign_key="notification.id", index=True, max_length=64)
    number: int
    started_at: datetime = utc_field()
    finished_at: datetime = utc_field()
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int


# Their Core tables, for the statements on the delivery path (no ORM objects to build).
NOTIFICATION_TABLE = table_of(Notification)
ATTEMPT_TABLE = table_of(DeliveryAttempt)
