"""Request and response bodies of the relevant-agencies API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.partners.agencies.categories import Heading
from services.partners.schemas import Strict

ContributionKind = Literal["money", "staff", "accommodation", "services", "other"]

MAX_CADENCE_MONTHS = 60


class Contribution(Strict):
    """What was agreed with the agency: one kind, with a free-text amount and description."""

    kind: ContributionKind
    amount: str | None = Field(default=None, max_length=200, examples=["£12,000 a year"])
    description: str = Field(min_length=2, max_length=1000)


class AgencyIn(Strict):
    name: str = Field(min_length=2, max_length=200, examples=["Leeds Beckett Academy Trust"])
    category: str = Field(
        min_length=2,
        max_length=60,
        description="A code from GET /relevant-agency-categories valid on named_on",
        examples=["academy_proprietor"],
    )
    reason: str = Field(min_length=3, max_length=2000, description="Why the partners chose it")
    contributions: list[Contribution] = Field(default_factory=list, max_length=20)
    named_on: date
    last_reviewed_on: date | None = None
    education_setting: bool | None = Field(
        default=None, description="Derived from the category; true marks one it does not imply"
    )
    youth_custody_or_residential: bool | None = None
    designated_health_professionals: bool | None = None


class AgencyPatch(Strict):
    """Only the fields sent change. A flag implied by the category stays set."""

    name: str | None = Field(default=None, min_length=2, max_length=200)
    category: str | None = Field(default=None, min_length=2, max_length=60)
    reason: str | None = Field(default=None, min_length=3, max_length=2000)
    contributions: list[Contribution] | None = Field(default=None, max_length=20)
    named_on: date | None = None
    last_reviewed_on: date | None = None
    education_setting: bool | None = None
    youth_custody_or_residential: bool | None = None
    designated_health_professionals: bool | None = None


class AgencyOut(BaseModel):
    id: str
    partnership_id: str
    name: str
    category: str
    category_label: str
    heading: Heading
    reason: str
    contributions: list[Contribution]
    education_setting: bool
    youth_custody_or_residential: bool
    designated_health_professionals: bool
    named_on: date
    last_reviewed_on: date | None
    review_cadence_months: int
    next_review_due: date
    review_overdue: bool = Field(description="next_review_due is before today")
    removed_on: date | None
    removal_reason: str | None
    created_at: datetime
    updated_at: datetime | None


class CategoryOut(BaseModel):
    code: str
    heading: Heading
    heading_label: str
    label: str
    valid_from: date
    valid_to: date | None
    education_setting: bool
    youth_custody_or_residential: bool
    designated_health_professionals: bool


class ReviewPolicyIn(Strict):
    cadence_months: int = Field(ge=1, le=MAX_CADENCE_MONTHS, examples=[12])


class ReviewPolicyOut(BaseModel):
    partnership_id: str
    cadence_months: int
    is_default: bool
    updated_by: str | None
    updated_at: datetime | None
