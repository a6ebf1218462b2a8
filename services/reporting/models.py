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

from sqlalchemy import JSON, BigInteger, Column, Text
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
    # Lifecycle of the arrangements (0002). ``status_history`` holds every distinct
    # ``status_changed`` seen ({status, previous_status, effective_on}), oldest first; the
    # current status is its last entry, so a replayed older change cannot win.
    status_since: date | None = None
    status_history: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # ``partnership.updated``: the event time of the latest change applied.
    fields_as_of: datetime | None = utc_field(nullable=True)
    # Council membership by ONS code: {name, ons_code, la_number, joined_on, left_on}. A council
    # is covered while it has not left, or joined again after it left.
    council_history: dict[str, dict[str, Any]] = Field(default_factory=dict, sa_column=Column(JSON))
    # The latest published arrangements (the highest version wins).
    arrangements_version: int | None = None
    arrangements_url: str | None = Field(default=None, max_length=500)
    arrangements_published_on: date | None = None
    arrangements_implementation_date: date | None = None


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


class CaseProgressView(ReportingTable, table=True):
    """Where a case is in its lifecycle, from ``case.transitioned`` (0002).

    Stands alone, like notification rows, and is joined to its case when read. Only moves
    forward: a transition applies when ``(at, rank of to_status)`` is later than the stored one.
    """

    __tablename__ = "case_progress_view"

    case_id: str = Field(primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    status: str = Field(max_length=40)
    transition: str = Field(max_length=60)
    at: datetime = utc_field()
    updated_at: datetime = utc_field(default_now=True)


class DeadlineView(ReportingTable, table=True):
    """What the deadline events said about one deadline of one case (0002).

    Overlays the deadline of the ``incident.notified`` event (or adds one it did not list, like
    LCSPR-6M). ``approaching_due_on`` / ``breached_due_on`` are the due dates the alerts were
    for: an alert counts only while it matches the current due date (a correction moves it).
    """

    __tablename__ = "deadline_view"

    case_id: str = Field(primary_key=True, max_length=64)
    rule_id: str = Field(primary_key=True, max_length=60)
    partnership_id: str = Field(index=True, max_length=64)
    title: str | None = Field(default=None, max_length=200)
    edition: str | None = Field(default=None, max_length=40)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    starts_on: date | None = None
    due_on: date | None = None
    due_as_of: datetime | None = utc_field(nullable=True)
    approaching_due_on: date | None = None
    working_days_remaining: int | None = None
    breached_due_on: date | None = None
    met_on: date | None = None
    met_on_time: bool | None = None
    updated_at: datetime = utc_field(default_now=True)


class DelegationView(ReportingTable, table=True):
    """A lead representative's delegation (0002); current while ``ended_on`` is null."""

    __tablename__ = "delegation_view"

    delegation_id: str = Field(primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    partner_id: str = Field(max_length=64)
    partner_kind: str | None = Field(default=None, max_length=40)
    below_threshold: bool = False
    delegated_on: date | None = None
    ended_on: date | None = None
    updated_at: datetime = utc_field(default_now=True)


class RegistryRecordView(ReportingTable, table=True):
    """A relevant agency, scrutiny arrangement or strategic link (``kind``) (0002).

    Current while not removed and not ended (``ends_on``: a scrutiny arrangement's end, a
    link's ``linked_to``; compared with today when read). ``removed_on`` is sticky: a replayed
    ``named``/``recorded`` event does not bring a removed record back.
    """

    __tablename__ = "registry_record_view"

    kind: str = Field(primary_key=True, max_length=20)
    record_id: str = Field(primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    ends_on: date | None = None
    removed_on: date | None = None
    updated_at: datetime = utc_field(default_now=True)


class FundingView(ReportingTable, table=True):
    """A budget (``kind`` budget) or a contribution for a financial year (0002), in pence.

    ``as_of`` is the event time of the values held: an older event does not overwrite them.
    A withdrawn contribution is kept and left out of the totals.
    """

    __tablename__ = "funding_view"

    kind: str = Field(primary_key=True, max_length=20)
    record_id: str = Field(primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    year: str = Field(max_length=9)
    money_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    in_kind_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    withdrawn: bool = False
    as_of: datetime | None = utc_field(nullable=True)
    updated_at: datetime = utc_field(default_now=True)
