"""Tables of the reviews service (its own metadata; shared tables live in shared.tables)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from shared.crypto import EncryptedJSON, EncryptedText
from shared.db import new_metadata_base
from shared.tables import utc_field

if TYPE_CHECKING:  # mypy cannot take a function's result as a base class
    from sqlmodel import SQLModel as ReviewsTable
else:
    ReviewsTable = new_metadata_base("ReviewsTable")


def new_id() -> str:
    return str(uuid.uuid4())


class CaseStatus(enum.StrEnum):
    """Where a case is in its lifecycle (the transitions between them are data in
    services/reviews/lifecycle/machine.py; the diagram is in docs/reviews/lifecycle.md)."""

    notified = "notified"
    rapid_review_in_progress = "rapid_review_in_progress"
    rapid_review_submitted = "rapid_review_submitted"
    decided = "decided"
    panel_responded = "panel_responded"
    local_review_commissioned = "local_review_commissioned"
    local_review_in_progress = "local_review_in_progress"
    final_report_shared = "final_report_shared"
    published = "published"
    publication_withheld = "publication_withheld"
    closed = "closed"


class PartnershipRef(ReviewsTable, table=True):
    """Local copy of a partnership, fed by ``partnership.created`` (never read from partners)."""

    __tablename__ = "partnership_ref"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    council_ons_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    updated_at: datetime = utc_field(default_now=True)


class CouncilRef(ReviewsTable, table=True):
    """Which partnership covers a council area, to validate and route notifications."""

    __tablename__ = "council_ref"

    ons_code: str = Field(primary_key=True, max_length=9)
    partnership_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=200)


class Case(ReviewsTable, table=True):
    """One notified incident. Child data is minimised: pseudonymous references, no names."""

    __tablename__ = "case"
    __table_args__ = (
        UniqueConstraint("partnership_id", "client_reference", name="uq_case_client_reference"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    client_id: str = Field(max_length=64)
    client_reference: str = Field(max_length=100)
    request_fingerprint: str = Field(max_length=64)
    council_ons_code: str = Field(max_length=9)
    kind: str = Field(max_length=40)
    nature: str = Field(max_length=20)
    abuse_or_neglect_known_or_suspected: bool
    status: str = Field(default=CaseStatus.notified.value, max_length=40, index=True)
    incident_date: date | None = None
    aware_on: date
    notified_at: datetime = utc_field()
    # What could identify a child or a family is encrypted at rest (shared.crypto).
    location: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    children: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(EncryptedJSON, nullable=True)
    )
    further_children_note: str | None = Field(
        default=None, sa_column=Column(EncryptedText, nullable=True)
    )
    involved_council_ons_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    involved_partnership_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    needs_rapid_review: bool
    created_at: datetime = utc_field(default_now=True)


class CaseDeadline(ReviewsTable, table=True):
    """A statutory deadline of a case, with the rule edition that applied when its clock
    started (a later change of guidance or override never moves it)."""

    __tablename__ = "case_deadline"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=64)
    position: int
    rule_id: str = Field(max_length=40)
    title: str = Field(max_length=200)
    starts_on: date
    due_on: date
    edition: str = Field(max_length=20)
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    verify: bool = False
