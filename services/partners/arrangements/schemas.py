"""Request and response bodies of the published-arrangements API.

The document is structured: one field per required content item of domain.md section 2 (see
:mod:`.contents`). Drafts may be partial; publication needs every item.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Text = str
TEXT = 20_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NamedPartner(Strict):
    """A statutory partner with its lead (WT2023: Lead Safeguarding Partner) and delegate."""

    kind: Literal["local_authority", "health_board", "police"]
    organisation: str = Field(min_length=2, max_length=200)
    lead_name: str | None = Field(default=None, min_length=2, max_length=200)
    lead_role: str | None = Field(default=None, max_length=200)
    delegate_name: str | None = Field(default=None, min_length=2, max_length=200)
    delegate_role: str | None = Field(default=None, max_length=200)


class ChosenAgency(Strict):
    name: str = Field(min_length=2, max_length=200)
    reason: str = Field(min_length=2, max_length=2000)


class ArrangementsContent(Strict):
    """Every item optional while drafting; the completeness check says what is missing."""

    working_together: str | None = Field(default=None, max_length=TEXT)
    practice_reviews: str | None = Field(default=None, max_length=TEXT)
    independent_scrutiny: str | None = Field(default=None, max_length=TEXT)
    partners: list[NamedPartner] | None = Field(default=None, max_length=20)
    geographical_boundaries: str | None = Field(default=None, max_length=TEXT)
    relevant_agencies: list[ChosenAgency] | None = Field(default=None, max_length=200)
    collaboration: str | None = Field(default=None, max_length=TEXT)
    education_settings: str | None = Field(default=None, max_length=TEXT)
    youth_custody_and_residential: str | None = Field(default=None, max_length=TEXT)
    data_and_intelligence: str | None = Field(default=None, max_length=TEXT)
    training_and_audits: str | None = Field(default=None, max_length=TEXT)
    funding: str | None = Field(default=None, max_length=TEXT)
    reviews_and_learning: str | None = Field(default=None, max_length=TEXT)
    voice_of_children: str | None = Field(default=None, max_length=TEXT)
    threshold_alignment: str | None = Field(default=None, max_length=TEXT)
    escalation: str | None = Field(default=None, max_length=TEXT)
    dispute_resolution: str | None = Field(default=None, max_length=TEXT)
    whistleblowing: str | None = Field(default=None, max_length=TEXT)
    threshold_document_url: HttpUrl | None = None


class ArrangementsIn(Strict):
    """A new draft version; ``based_on_version`` copies that version's content first."""

    based_on_version: int | None = Field(default=None, ge=1)
    content: ArrangementsContent = Field(default_factory=ArrangementsContent)


class ArrangementsPatch(Strict):
    """Items given replace the draft's; an item set to null is cleared."""

    content: ArrangementsContent


class PublishIn(Strict):
    url: HttpUrl = Field(examples=["https://example.gov.uk/safeguarding/arrangements.pdf"])
    published_on: date
    implementation_date: date


class MissingItem(BaseModel):
    item: str
    number: int | None
    title: str
    detail: str


class Completeness(BaseModel):
    version: int
    complete: bool
    missing: list[MissingItem]


class ArrangementsOut(BaseModel):
    id: str
    partnership_id: str
    version: int
    status: Literal["draft", "published"]
    based_on_version: int | None
    content: ArrangementsContent
    url: str | None
    published_on: date | None
    implementation_date: date | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    complete: bool
    missing: list[str]


class ArrangementsPage(BaseModel):
    items: list[ArrangementsOut]
    total: int
    limit: int
    offset: int
