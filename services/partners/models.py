"""Tables of the partner registry (its own metadata; shared tables live in shared.tables)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from shared.tables import utc_field


class PartnersTable(SQLModel, registry=registry()):
    """Base of the registry's tables: their own MetaData, apart from other services'."""


def new_id() -> str:
    return str(uuid.uuid4())


class Partnership(PartnersTable, table=True):
    __tablename__ = "partnership"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    status: str = Field(default="drafting_arrangements", max_length=40)
    effective_from: date | None = None
    geography: str | None = Field(default=None, max_length=2000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime | None = utc_field(nullable=True)


class Council(PartnersTable, table=True):
    """A council area covered by a partnership. A council is in at most one at a time."""

    __tablename__ = "council"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    ons_code: str = Field(max_length=9, index=True)
    la_number: str | None = Field(default=None, max_length=3)
    joined_on: date | None = None
    left_on: date | None = None


class SafeguardingPartner(PartnersTable, table=True):
    """One of the three statutory safeguarding partners of a partnership."""

    __tablename__ = "safeguarding_partner"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    kind: str = Field(max_length=20)
    organisation: str = Field(max_length=200)
    lead_role: str = Field(max_length=200)
    lead_name: str | None = Field(default=None, max_length=200)


class PartnershipStatusChange(PartnersTable, table=True):
    """The partnership's status over time: each change with the date it took effect."""

    __tablename__ = "partnership_status_change"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    status: str = Field(max_length=40)
    effective_on: date
    reason: str | None = Field(default=None, max_length=1000)
    recorded_by: str = Field(max_length=100)
    recorded_at: datetime = utc_field(default_now=True)


class Delegation(PartnersTable, table=True):
    """A lead representative's delegation to a named senior officer.

    WT2023 (domain.md section 1) expects one named Delegated Safeguarding Partner per partner,
    so a partner has at most one delegation without ``ended_on``.
    """

    __tablename__ = "delegation"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    partner_id: str = Field(foreign_key="safeguarding_partner.id", index=True, max_length=64)
    delegate_name: str = Field(max_length=200)
    delegate_role: str = Field(max_length=200)
    rank: str = Field(max_length=60)
    levels_below_lead: int
    below_threshold: bool
    scope: str = Field(max_length=2000)
    accountable_to: str = Field(max_length=200)
    delegated_on: date
    ended_on: date | None = None
    end_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = utc_field(default_now=True)
