"""Request and response bodies of the scrutiny and strategic-links API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.partners.schemas import Strict

# domain.md section 1: the model of independent scrutiny is local.
ScrutinyModel = Literal[
    "independent_chair",
    "independent_scrutineer",
    "commissioned_review",
    "peer_review",
    "young_scrutineers",
    "scrutiny_panel",
    "other",
]

# domain.md section 1: the other strategic boards the arrangements link to.
LinkKind = Literal[
    "health_and_wellbeing_board",
    "adult_safeguarding_board",
    "community_safety_partnership",
    "channel_panel",
    "mappa",
    "local_family_justice_board",
    "improvement_board",
    "other",
]


class Scrutineer(Strict):
    name: str = Field(min_length=2, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    independence_statement: str = Field(
        min_length=3,
        max_length=2000,
        description="Why this person or body is independent of the partners",
    )


class ScrutinyIn(Strict):
    model: ScrutinyModel
    model_detail: str | None = Field(
        default=None, min_length=3, max_length=500, description="Required when model is other"
    )
    scrutineers: list[Scrutineer] = Field(min_length=1, max_length=30)
    scope: str = Field(min_length=3, max_length=4000)
    reporting_arrangements: str = Field(min_length=3, max_length=4000)
    starts_on: date
    ends_on: date | None = None


class ScrutinyPatch(Strict):
    model: ScrutinyModel | None = None
    model_detail: str | None = Field(default=None, min_length=3, max_length=500)
    scrutineers: list[Scrutineer] | None = Field(default=None, min_length=1, max_length=30)
    scope: str | None = Field(default=None, min_length=3, max_length=4000)
    reporting_arrangements: str | None = Field(default=None, min_length=3, max_length=4000)
    starts_on: date | None = None
    ends_on: date | None = None


class ScrutinyOut(BaseModel):
    id: str
    partnership_id: str
    model: ScrutinyModel
    model_detail: str | None
    scrutineers: list[Scrutineer]
    scope: str
    reporting_arrangements: str
    starts_on: date
    ends_on: date | None
    removed_on: date | None
    removal_reason: str | None
    created_at: datetime
    updated_at: datetime | None


class LinkIn(Strict):
    name: str = Field(min_length=2, max_length=200, examples=["Leeds Health and Wellbeing Board"])
    kind: LinkKind
    contact: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    linked_from: date
    linked_to: date | None = None


class LinkPatch(Strict):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    kind: LinkKind | None = None
    contact: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    linked_from: date | None = None
    linked_to: date | None = None


class LinkOut(BaseModel):
    id: str
    partnership_id: str
    name: str
    kind: LinkKind
    contact: str | None
    notes: str | None
    linked_from: date
    linked_to: date | None
    removed_on: date | None
    removal_reason: str | None
    created_at: datetime
    updated_at: datetime | None
