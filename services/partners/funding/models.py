"""Tables of the funding feature, on the service's own metadata (PartnersTable).

Money is integer pence (GBP); a financial year is its label, e.g. "2025-26" (domain.md 3).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field

from services.partners.models import PartnersTable, new_id
from shared.tables import utc_field


class FundingSettings(PartnersTable, table=True):
    """How a partnership judges proportionate shares, and its size for cross-area comparison.

    ``weights``: per statutory partner id, its child population (basis child_population) or
    its agreed weight (basis custom); unused for equal_thirds.
    """

    __tablename__ = "funding_settings"

    partnership_id: str = Field(foreign_key="partnership.id", primary_key=True, max_length=64)
    basis: str = Field(default="equal_thirds", max_length=20)
    weights: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    child_population: int | None = None
    tolerance: str | None = Field(default=None, max_length=12)
    updated_at: datetime = utc_field(default_now=True)


class FundingBudget(PartnersTable, table=True):
    """The partnership's budget for one financial year."""

    __tablename__ = "funding_budget"
    __table_args__ = (UniqueConstraint("partnership_id", "year", name="uq_funding_budget_year"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    year: str = Field(max_length=7)
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class FundingContribution(PartnersTable, table=True):
    """One contribution to a partnership in one financial year, money and/or in kind.

    ``contributor_key`` identifies the contributor across partnerships (normalised name), so
    the same flat amount from one body to many partnerships can be seen. Withdrawn rows stay
    (soft delete): funding history matters.
    """

    __tablename__ = "funding_contribution"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    year: str = Field(max_length=7, index=True)
    contributed_on: date | None = None
    contributor_kind: str = Field(max_length=20)
    partner_id: str | None = Field(default=None, max_length=64)
    agency_id: str | None = Field(default=None, max_length=64)
    contributor_name: str = Field(max_length=200)
    contributor_key: str = Field(max_length=200, index=True)
    money_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    in_kind: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    in_kind_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    decided_unilaterally: bool = False
    covers_shortfall: bool = False
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
    withdrawn_at: datetime | None = utc_field(nullable=True)
