"""Tables of this feature, on the service's own metadata (ReviewsTable).

The case's status stays on ``case.status``; these tables hold what each step records
(domain.md s4): the timeline, the rapid review, the Panel's response, national reviews, the
local review with its report versions, and recommendations with their actions.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field

from services.reviews.models import ReviewsTable, new_id
from shared.tables import utc_field


class TimelineEntry(ReviewsTable, table=True):
    """One step of a case: who, when (``at``: when it happened; ``recorded_at``: when told),
    what (transition, from and to) and why."""

    __tablename__ = "case_timeline"
    __table_args__ = (UniqueConstraint("case_id", "position", name="uq_case_timeline_position"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=64)
    position: int
    transition: str = Field(max_length=60)
    from_status: str = Field(max_length=40)
    to_status: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    at: datetime = utc_field()
    recorded_at: datetime = utc_field(default_now=True)
    reason: str | None = Field(default=None, max_length=2000)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class RapidReview(ReviewsTable, table=True):
    """The rapid review record of a case (one per case)."""

    __tablename__ = "rapid_review"

    case_id: str = Field(foreign_key="case.id", primary_key=True, max_length=64)
    participants: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    facts: str | None = Field(default=None, sa_column=Column(Text))
    key_practice_episodes: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    immediate_actions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    family_context: str | None = Field(default=None, sa_column=Column(Text))
    learning: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    decision: str | None = Field(default=None, max_length=40)
    rationale: str | None = Field(default=None, sa_column=Column(Text))
    criteria: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    sent_to_panel_on: date | None = None
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class PanelResponse(ReviewsTable, table=True):
    """The Panel's answer to a rapid review (one per case)."""

    __tablename__ = "panel_response"

    case_id: str = Field(foreign_key="case.id", primary_key=True, max_length=64)
    outcome: str = Field(max_length=40)
    received_on: date
    comments: str | None = Field(default=None, sa_column=Column(Text))
    national_review_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field(default_now=True)


class NationalReview(ReviewsTable, table=True):
    """A review the Panel runs: of one case it takes on, or thematic across many cases."""

    __tablename__ = "national_review"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    kind: str = Field(max_length=20)  # "case" or "thematic"
    title: str = Field(max_length=300)
    status: str = Field(default="open", max_length=20)
    case_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    partnership_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = utc_field(default_now=True)


class LocalReview(ReviewsTable, table=True):
    """The local child safeguarding practice review of a case (one per case)."""

    __tablename__ = "local_review"

    case_id: str = Field(foreign_key="case.id", primary_key=True, max_length=64)
    reviewer_name: str | None = Field(default=None, max_length=200)
    reviewer_organisation: str | None = Field(default=None, max_length=200)
    reviewer_independence_declared: bool = False
    reviewer_independence_statement: str | None = Field(default=None, sa_column=Column(Text))
    terms_of_reference: str | None = Field(default=None, sa_column=Column(Text))
    methodology: str | None = Field(default=None, max_length=2000)
    milestones: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    decided_on: date | None = None
    commissioned_on: date | None = None
    planned_publication_on: date | None = None
    shared_on: date | None = None
    published_on: date | None = None
    publication_url: str | None = Field(default=None, max_length=500)
    withheld_reason: str | None = Field(default=None, max_length=2000)
    late_reasons: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class ReportVersion(ReviewsTable, table=True):
    """A version of the local review report: metadata and its text or a link to it."""

    __tablename__ = "review_report_version"
    __table_args__ = (UniqueConstraint("case_id", "version", name="uq_report_version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=64)
    version: int
    title: str = Field(max_length=300)
    final: bool = False
    text: str | None = Field(default=None, sa_column=Column(Text))
    url: str | None = Field(default=None, max_length=500)
    author: str = Field(max_length=200)
    created_at: datetime = utc_field(default_now=True)


class Recommendation(ReviewsTable, table=True):
    """A recommendation of a review; done when every one of its actions is (domain.md s4).
    Never deleted: withdrawn with a reason, so the history stays."""

    __tablename__ = "recommendation"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    case_id: str = Field(foreign_key="case.id", index=True, max_length=64)
    partnership_id: str = Field(index=True, max_length=64)
    source: str = Field(max_length=30)
    national_review_id: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    owner_agency: str = Field(max_length=200)
    due_on: date | None = None
    withdrawn_reason: str | None = Field(default=None, max_length=2000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class RecommendationAction(ReviewsTable, table=True):
    """An action taken for a recommendation, with evidence and sign-off when done."""

    __tablename__ = "recommendation_action"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    recommendation_id: str = Field(foreign_key="recommendation.id", index=True, max_length=64)
    description: str = Field(max_length=2000)
    owner_agency: str = Field(max_length=200)
    due_on: date | None = None
    status: str = Field(default="open", max_length=20)
    evidence: str | None = Field(default=None, max_length=4000)
    signed_off_by: str | None = Field(default=None, max_length=200)
    signed_off_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
