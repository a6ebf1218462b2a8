"""Request and response bodies of the case lifecycle API.

Shapes are checked here; rules that need the case (its state, dates, criteria against the
decision) are checked in service.py, naming the field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl

from services.reviews.lifecycle.machine import Decision, PanelOutcome

Source = Literal["rapid_review", "local_review", "national_review", "thematic_review"]
RecommendationStatus = Literal["open", "done", "withdrawn"]
ActionStatus = Literal["open", "in_progress", "done"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- transitions ------------------------------------------------------------------------------


class TransitionIn(BaseModel):
    """``transition`` names the step; other fields are that step's payload (checked against
    the step's own model, so a misspelt field is refused rather than ignored)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    transition: str = Field(min_length=1, max_length=60, examples=["start_rapid_review"])
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    at: AwareDatetime | None = Field(
        default=None, description="When it happened (default: now); never in the future"
    )


class NoPayload(Strict):
    pass


class LatePayload(Strict):
    late_reason: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Required when past due"
    )


class DecidePayload(Strict):
    decision: Decision | None = Field(
        default=None, description="Default: the decision recorded in the rapid review"
    )


class PanelResponseIn(Strict):
    outcome: PanelOutcome
    received_on: date | None = Field(default=None, description="Default: the day of ``at``")
    comments: str | None = Field(default=None, min_length=1, max_length=20000)
    national_review_title: str | None = Field(default=None, min_length=1, max_length=300)


class SharePayload(LatePayload):
    planned_publication_on: date


class PublishPayload(LatePayload):
    url: HttpUrl


class WithholdPayload(Strict):
    improvements_url: HttpUrl | None = None


class PanelResponseRequest(PanelResponseIn):
    """POST /cases/{id}/panel-response: the Panel's answer, with the transition's fields."""

    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    at: AwareDatetime | None = None


class TimelineEntryOut(BaseModel):
    position: int
    transition: str
    from_status: str
    to_status: str
    actor: str
    at: datetime
    recorded_at: datetime
    reason: str | None
    detail: dict[str, Any]


class TimelinePage(BaseModel):
    items: list[TimelineEntryOut]
    total: int
    limit: int
    offset: int


class TransitionOut(BaseModel):
    case_id: str
    status: str
    entry: TimelineEntryOut
    allowed: list[str] = Field(description="Transitions that may follow")


class TransitionInfo(BaseModel):
    name: str
    sources: list[str]
    target: str
    title: str
    reason_required: bool
    event: str | None
    guards: list[str]


class CriterionOut(BaseModel):
    code: str
    regulation: str
    text: str


class LifecycleOut(BaseModel):
    states: list[str]
    transitions: list[TransitionInfo]
    criteria: list[CriterionOut]


# -- rapid review -----------------------------------------------------------------------------


class ParticipantIn(Strict):
    agency: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, min_length=1, max_length=200)


class ImmediateActionIn(Strict):
    description: str = Field(min_length=1, max_length=2000)
    owner_agency: str | None = Field(default=None, min_length=1, max_length=200)
    taken_on: date | None = None


class RapidReviewIn(Strict):
    """The whole rapid review record (PUT); PATCH takes any subset of these fields."""

    participants: list[ParticipantIn] = Field(default_factory=list, max_length=50)
    facts: str | None = Field(default=None, min_length=1, max_length=20000)
    key_practice_episodes: list[str] = Field(default_factory=list, max_length=100)
    immediate_actions: list[ImmediateActionIn] = Field(default_factory=list, max_length=100)
    family_context: str | None = Field(
        default=None,
        min_length=1,
        max_length=20000,
        description="The child's and family's lives, including racism, other inequalities "
        "and disability (domain.md s4)",
    )
    learning: list[str] = Field(default_factory=list, max_length=100)
    decision: Decision | None = None
    rationale: str | None = Field(default=None, min_length=1, max_length=20000)
    criteria: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Codes of the SI 2018/789 reg 11 / reg 3 criteria met (GET /case-lifecycle)",
    )


class RapidReviewPatch(Strict):
    participants: list[ParticipantIn] | None = Field(default=None, max_length=50)
    facts: str | None = Field(default=None, min_length=1, max_length=20000)
    key_practice_episodes: list[str] | None = Field(default=None, max_length=100)
    immediate_actions: list[ImmediateActionIn] | None = Field(default=None, max_length=100)
    family_context: str | None = Field(default=None, min_length=1, max_length=20000)
    learning: list[str] | None = Field(default=None, max_length=100)
    decision: Decision | None = None
    rationale: str | None = Field(default=None, min_length=1, max_length=20000)
    criteria: list[str] | None = Field(default=None, max_length=8)


class RapidReviewOut(BaseModel):
    case_id: str
    participants: list[dict[str, Any]]
    facts: str | None
    key_practice_episodes: list[str]
    immediate_actions: list[dict[str, Any]]
    family_context: str | None
    learning: list[str]
    decision: str | None
    rationale: str | None
    criteria: list[str]
    sent_to_panel_on: date | None
    created_at: datetime
    updated_at: datetime


class PanelResponseOut(BaseModel):
    case_id: str
    outcome: str
    received_on: date
    comments: str | None
    national_review_id: str | None
    status: str


# -- national reviews -------------------------------------------------------------------------


class NationalReviewIn(Strict):
    """A thematic national review the Panel runs, drawing on several partnerships' cases."""

    title: str = Field(min_length=1, max_length=300)
    case_ids: list[str] = Field(min_length=1, max_length=500)


class NationalReviewOut(BaseModel):
    id: str
    kind: str
    title: str
    status: str
    case_ids: list[str]
    created_at: datetime


class NationalReviewPage(BaseModel):
    items: list[NationalReviewOut]
    total: int
    limit: int
    offset: int


# -- local review -----------------------------------------------------------------------------


class MilestoneIn(Strict):
    title: str = Field(min_length=1, max_length=200)
    due_on: date
    completed_on: date | None = None


class LocalReviewIn(Strict):
    reviewer_name: str | None = Field(default=None, min_length=1, max_length=200)
    reviewer_organisation: str | None = Field(default=None, min_length=1, max_length=200)
    reviewer_independence_declared: bool = False
    reviewer_independence_statement: str | None = Field(default=None, min_length=1, max_length=4000)
    terms_of_reference: str | None = Field(default=None, min_length=1, max_length=20000)
    methodology: str | None = Field(default=None, min_length=1, max_length=2000)
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=50)


class LocalReviewPatch(Strict):
    reviewer_name: str | None = Field(default=None, min_length=1, max_length=200)
    reviewer_organisation: str | None = Field(default=None, min_length=1, max_length=200)
    reviewer_independence_declared: bool | None = None
    reviewer_independence_statement: str | None = Field(default=None, min_length=1, max_length=4000)
    terms_of_reference: str | None = Field(default=None, min_length=1, max_length=20000)
    methodology: str | None = Field(default=None, min_length=1, max_length=2000)
    milestones: list[MilestoneIn] | None = Field(default=None, max_length=50)


class DeadlineBrief(BaseModel):
    rule_id: str
    starts_on: date
    due_on: date
    edition: str


class LocalReviewOut(BaseModel):
    case_id: str
    reviewer_name: str | None
    reviewer_organisation: str | None
    reviewer_independence_declared: bool
    reviewer_independence_statement: str | None
    terms_of_reference: str | None
    methodology: str | None
    milestones: list[dict[str, Any]]
    decided_on: date | None
    commissioned_on: date | None
    planned_publication_on: date | None
    shared_on: date | None
    published_on: date | None
    publication_url: str | None
    withheld_reason: str | None
    late_reasons: dict[str, str]
    deadlines: list[DeadlineBrief]
    updated_at: datetime


class ReportVersionIn(Strict):
    """A report version: its text, a link to it, or both."""

    title: str = Field(min_length=1, max_length=300)
    final: bool = False
    text: str | None = Field(default=None, min_length=1, max_length=500000)
    url: HttpUrl | None = None


class ReportVersionOut(BaseModel):
    id: str
    case_id: str
    version: int
    title: str
    final: bool
    text: str | None
    url: str | None
    author: str
    created_at: datetime


class ReportVersionPage(BaseModel):
    items: list[ReportVersionOut]
    total: int
    limit: int
    offset: int


# -- recommendations --------------------------------------------------------------------------


class RecommendationIn(Strict):
    source: Source
    text: str = Field(min_length=1, max_length=20000)
    owner_agency: str = Field(min_length=1, max_length=200)
    due_on: date | None = None
    national_review_id: str | None = Field(default=None, min_length=1, max_length=64)


class RecommendationPatch(Strict):
    text: str | None = Field(default=None, min_length=1, max_length=20000)
    owner_agency: str | None = Field(default=None, min_length=1, max_length=200)
    due_on: date | None = None
    withdrawn_reason: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Withdraws it (kept, not deleted)"
    )


class ActionIn(Strict):
    description: str = Field(min_length=1, max_length=2000)
    owner_agency: str = Field(min_length=1, max_length=200)
    due_on: date | None = None


class ActionPatch(Strict):
    """``status: done`` needs evidence of completion and who signed it off."""

    description: str | None = Field(default=None, min_length=1, max_length=2000)
    owner_agency: str | None = Field(default=None, min_length=1, max_length=200)
    due_on: date | None = None
    status: ActionStatus | None = None
    evidence: str | None = Field(default=None, min_length=1, max_length=4000)
    signed_off_by: str | None = Field(default=None, min_length=1, max_length=200)


class ActionOut(BaseModel):
    id: str
    recommendation_id: str
    description: str
    owner_agency: str
    due_on: date | None
    status: str
    evidence: str | None
    signed_off_by: str | None
    signed_off_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RecommendationOut(BaseModel):
    id: str
    case_id: str
    source: str
    national_review_id: str | None
    text: str
    owner_agency: str
    due_on: date | None
    status: RecommendationStatus
    withdrawn_reason: str | None
    actions: list[ActionOut]
    created_at: datetime
    updated_at: datetime


class RecommendationPage(BaseModel):
    items: list[RecommendationOut]
    total: int
    limit: int
    offset: int
