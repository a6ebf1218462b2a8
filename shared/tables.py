"""Tables every service has: outbox, inbox, client credentials and the audit trail.

They live on ``SQLModel.metadata``; each service's own tables live on its own metadata
(:func:`shared.db.new_metadata_base`). Every service's first migration creates these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from shared.crypto import EncryptedText


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for statements built without the ORM (hot paths:
    no objects to build and flush)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_field(*, nullable: bool = False, index: bool = False, default_now: bool = False) -> Any:
    """A timezone-aware timestamp column (use for every datetime field in every service)."""
    column: Column[datetime] = Column(UtcDateTime(), nullable=nullable, index=index)
    if default_now:
        return Field(default_factory=utcnow, sa_column=column)
    return Field(default=None, sa_column=column)


class OutboxEvent(SQLModel, table=True):
    """An event written in the same transaction as the change it announces.

    Rows are kept after publishing: they are the service's durable event history, used to
    re-seed a broker that lost its log.
    """

    __tablename__ = "outbox_event"

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    event_id: str = Field(max_length=64, unique=True)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    type: str = Field(max_length=200)
    # The whole CloudEvent; encrypted at rest, since an incident's carries child references.
    body: str = Field(sa_column=Column(EncryptedText, nullable=False))
    traceparent: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field(default_now=True)
    published_at: datetime | None = utc_field(nullable=True, index=True)


class InboxEvent(SQLModel, table=True):
    """Ids of consumed events, written in the handler's transaction: handlers run once."""

    __tablename__ = "inbox_event"

    event_id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=200)
    source: str = Field(max_length=200)
    processed_at: datetime = utc_field(default_now=True)


class ClientSystem(SQLModel, table=True):
    """An external system (council case system, police or health system) of one partnership.

    The partners service writes these as the system of record; the other services keep a copy
    fed by ``client_system.*`` events (event-carried state transfer).
    """

    __tablename__ = "client_system"

    client_id: str = Field(primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=200)
    organisation: str = Field(max_length=200)
    allowed_event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = utc_field(default_now=True)


class ClientCredential(SQLModel, table=True):
    """A client system's bearer credential, by hash only (written like ``ClientSystem``)."""

    __tablename__ = "client_credential"

    credential_id: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(index=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    token_hash: str = Field(unique=True, max_length=128)
    created_at: datetime = utc_field(default_now=True)
    revoked_at: datetime | None = utc_field(nullable=True)


class AuditEntry(SQLModel, table=True):
    """Who did what to which record, when. Written in the same transaction as the change."""

    __tablename__ = "audit_entry"

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: datetime = utc_field(default_now=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    entity_type: str = Field(max_length=100)
    entity_id: str = Field(max_length=64, index=True)
    partnership_id: str | None = Field(default=None, max_length=64, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
