"""Read models of the reporting service (its own metadata; shared tables live in shared.tables).

Every row is keyed by the id the producing service gave it, so applying an event is an upsert
and replaying one changes nothing. Rows are fed by events from three topics with no ordering
between them: a case or a notification may arrive before its partnership, a notification
before its case. So a partnership row may be a stub (``name`` unknown yet) and notification rows
stand alone, joined to their case by ``case_id`` when queried.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field

from shared.db import new_metadata_base
from shared.tables import utc_field

if TYPE_CHECKING:  # mypy cannot take a function's result as a base class
    from sqlmodel import SQLModel as ReportingTable
else:
    ReportingTable = new_metadata_base("ReportingTable")


class PartnershipView(ReportingTable, table=True):
    """A partnership as announced by ``partnership.created``, or a stub until it arrives."""

    __tablename__ = "partnership_view"

    partnership_id: str = Field(primary_key=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    status: str | None = Field(default=None, max_length=40)
    effective_from: date | None = None
    councils: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    partners: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    first_seen_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class CaseView(ReportingTable, table=True):
    """A case from its ``incident.notified`` event, with the deadlines the reviews service set.

    No child details are kept (only how many children): the dashboard does not need them.
    """

    __tablename__ = "case_view"

    case_id: str = Field(primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    council_ons_code: str = Field(max_length=9)
    kind: str = Field(max_length=60)
    nature: str = Field(max_length=60)
    status: str = Field(default="notified", max_length=40, index=True)
    incident_date: date | None = None
    aware_on: date
    notified_at: datetime = utc_field()
    needs_rapid_review: bool = False
    children_count: int = 0
    deadlines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    notify: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    involved_partnership_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime = utc_field(default_now=True)


class NotificationView(ReportingTable, table=True):
    """One statutory notification to one recipient and how its delivery stands.

    ``status`` only moves forward (see :mod:`services.reporting.readmodel`); ``attempts`` only
    grows; ``last_error_attempt`` is the attempt ``last_error`` came from, so an older failure
    replayed late does not replace a newer message.
    """

    __tablename__ = "notification_view"

    notification_id: str = Field(primary_key=True, max_length=64)
    case_id: str = Field(index=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    recipient: str = Field(max_length=60)
    channel: str | None = Field(default=None, max_length=40)
    rule_id: str | None = Field(default=None, max_length=60)
    due_on: date | None = None
    status: str = Field(default="queued", max_length=20)
    attempts: int = 0
    delivered_at: datetime | None = utc_field(nullable=True)
    on_time: bool | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error_attempt: int = 0
    next_attempt_at: datetime | None = utc_field(nullable=True)
    queued_at: datetime | None = utc_field(nullable=True)
    updated_at: datetime = utc_field(default_now=True)
