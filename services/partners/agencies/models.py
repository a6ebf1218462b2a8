"""Tables of this feature, on the service's own metadata (PartnersTable)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from services.partners.models import PartnersTable, new_id
from shared.tables import utc_field


class RelevantAgency(PartnersTable, table=True):
    """An organisation the partners named to work with (domain.md section 1).

    ``next_review_due`` is stored (not computed on read) so that the "review due" query can
    filter and paginate in SQL; it is recomputed whenever its inputs or the partnership's
    review cadence change. A removed agency keeps its row: ``removed_on`` ends it.
    """

    __tablename__ = "relevant_agency"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    category: str = Field(max_length=60)
    reason: str = Field(max_length=2000)
    contributions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    education_setting: bool = False
    youth_custody_or_residential: bool = False
    designated_health_professionals: bool = False
    named_on: date
    last_reviewed_on: date | None = None
    next_review_due: date = Field(index=True)
    removed_on: date | None = None
    removal_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime | None = utc_field(nullable=True)


class AgencyReviewPolicy(PartnersTable, table=True):
    """How often a partnership reviews its list of relevant agencies (the partners decide:
    domain.md section 1). No row means the default cadence."""

    __tablename__ = "agency_review_policy"

    partnership_id: str = Field(foreign_key="partnership.id", primary_key=True, max_length=64)
    cadence_months: int
    updated_by: str = Field(max_length=100)
    updated_at: datetime = utc_field(default_now=True)
