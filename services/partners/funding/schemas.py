"""Request and response bodies of the funding API (money in integer pence, GBP)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.partners.funding.rules import Basis, ContributorKind, parse_financial_year

MAX_PENCE = 10**13  # GBP 100bn: a typo guard, far above any partnership budget


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _check_year(value: str | None) -> str | None:
    if value is not None:
        parse_financial_year(value)
    return value


FinancialYear = Field(pattern=r"^\d{4}-\d{2}$", examples=["2025-26"])


class FundingSettingsPatch(Strict):
    """Partial update of the basis for proportionate shares and the area's size."""

    basis: Basis | None = None
    weights: dict[str, Decimal] | None = Field(
        default=None,
        description="Per statutory partner id: its child population (child_population) or "
        "weight (custom)",
    )
    child_population: int | None = Field(default=None, gt=0, le=10**8)
    tolerance: Decimal | None = Field(default=None, ge=0, lt=1, examples=["0.25"])

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: dict[str, Decimal] | None) -> dict[str, Decimal] | None:
        if weights is not None and any(w < 0 for w in weights.values()):
            raise ValueError("weights cannot be negative")
        return weights


class FundingSettingsOut(BaseModel):
    partnership_id: str
    basis: str
    weights: dict[str, Decimal]
    child_population: int | None
    tolerance: Decimal
    tolerance_is_default: bool


class BudgetIn(Strict):
    year: str = FinancialYear
    amount_pence: int = Field(ge=0, le=MAX_PENCE)
    note: str | None = Field(default=None, max_length=2000)

    _year = field_validator("year")(_check_year)


class BudgetPatch(Strict):
    amount_pence: int | None = Field(default=None, ge=0, le=MAX_PENCE)
    note: str | None = Field(default=None, max_length=2000)


class BudgetOut(BaseModel):
    id: str
    partnership_id: str
    year: str
    amount_pence: int
    note: str | None
    created_at: datetime
    updated_at: datetime


class BudgetPage(BaseModel):
    items: list[BudgetOut]
    total: int
    limit: int
    offset: int


class ContributorIn(Strict):
    """A statutory partner of this partnership (by id), a relevant agency, or another body."""

    kind: ContributorKind
    partner_id: str | None = Field(default=None, max_length=64)
    agency_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, min_length=2, max_length=200)


class InKindIn(Strict):
    description: str = Field(min_length=2, max_length=500, examples=["Office accommodation"])
    estimated_value_pence: int = Field(ge=0, le=MAX_PENCE)


class ContributionIn(Strict):
    year: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}$",
        examples=["2025-26"],
        description="Or give contributed_on; if both, they must agree",
    )
    contributed_on: date | None = None
    contributor: ContributorIn
    money_pence: int = Field(default=0, ge=0, le=MAX_PENCE)
    in_kind: list[InKindIn] = Field(default_factory=list, max_length=50)
    decided_unilaterally: bool = Field(
        default=False, description="The contributor set this amount alone, not agreed"
    )
    covers_shortfall: bool = Field(default=False, description="Paid to fill a funding gap")
    note: str | None = Field(default=None, max_length=2000)

    _year = field_validator("year")(_check_year)


class ContributionPatch(Strict):
    year: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")
    contributed_on: date | None = None
    money_pence: int | None = Field(default=None, ge=0, le=MAX_PENCE)
    in_kind: list[InKindIn] | None = Field(default=None, max_length=50)
    decided_unilaterally: bool | None = None
    covers_shortfall: bool | None = None
    note: str | None = Field(default=None, max_length=2000)

    _year = field_validator("year")(_check_year)


class InKindOut(BaseModel):
    description: str
    estimated_value_pence: int


class ContributionOut(BaseModel):
    id: str
    partnership_id: str
    year: str
    contributed_on: date | None
    contributor_kind: str
    partner_id: str | None
    agency_id: str | None
    contributor_name: str
    money_pence: int
    in_kind: list[InKindOut]
    in_kind_pence: int
    total_pence: int
    decided_unilaterally: bool
    covers_shortfall: bool
    note: str | None
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None


class ContributionPage(BaseModel):
    items: list[ContributionOut]
    total: int
    limit: int
    offset: int


class ContributorAnalysis(BaseModel):
    name: str
    kind: str
    partner_id: str | None
    partner_kind: str | None
    money_pence: int
    in_kind_pence: int
    total_pence: int
    share_of_total: Decimal | None
    expected_share: Decimal | None = Field(
        default=None,
        description="Statutory partners only: share of the partners' combined "
        "contribution under the chosen basis",
    )
    expected_pence: int | None = None
    share_of_partners: Decimal | None = None


FlagCode = Literal[
    "below_proportionate_share",
    "decided_unilaterally",
    "flat_amount_across_partnerships",
    "council_covers_shortfall",
]


class FundingFlag(BaseModel):
    code: FlagCode
    contributor: str
    partner_id: str | None = None
    detail: str


class FundingAnalysis(BaseModel):
    partnership_id: str
    year: str
    basis: str
    tolerance: Decimal
    budget_pence: int | None
    money_pence: int
    in_kind_pence: int
    total_pence: int
    balance_pence: int | None = Field(description="Total minus budget: negative is a shortfall")
    position: Literal["shortfall", "surplus", "balanced", "no_budget"]
    contributors: list[ContributorAnalysis]
    flags: list[FundingFlag]
