"""Tables of this feature, on the service's own metadata (PartnersTable)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from services.partners.models import PartnersTable, new_id
from shared.tables import utc_field


class ScrutinyArrangement(PartnersTable, table=True):
    """How the partnership's arrangements are independently scrutinised (domain.md section 1:
    a local model, a critical friend). ``scrutineers`` holds name, organisation and
    independence statement of each. A removed row is kept (``removed_on``)."""

    __tablename__ = "scrutiny_arrangement"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    model: str = Field(max_length=40)
    model_detail: str | None = Field(default=None, max_length=500)
    scrutineers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    scope: str = Field(max_length=4000)
    reporting_arrangements: str = Field(max_length=4000)
    starts_on: date
    ends_on: date | None = None
    removed_on: date | None = None
    removal_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime | None = utc_field(nullable=True)


class StrategicLink(PartnersTable, table=True):
    """A link from the arrangements to another strategic board (domain.md section 1), listed
    by the yearly report."""

    __tablename__ = "strategic_link"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    contact: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=4000)
    linked_from: date
    linked_to: date | None = None
    removed_on: date | None = None
    removal_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime | None = utc_field(nullable=True)
