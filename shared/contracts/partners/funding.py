"""Events of the partner registry's funding feature (payloads registered on import).

Money is integer pence (GBP); ``year`` is a financial year label such as "2025-26"
(domain.md section 3).
"""

from __future__ import annotations

from datetime import date

from shared.events import EventPayload


class FundingSettingsUpdated(EventPayload):
    """The basis for proportionate shares (or the area's child population) changed."""

    event_name = "funding_settings.updated"
    partnership_id: str
    basis: str
    weights: dict[str, str]
    child_population: int | None = None
    tolerance: str
    changes: list[str]


class FundingBudgetSet(EventPayload):
    """The partnership's budget for a financial year was recorded or changed."""

    event_name = "funding_budget.set"
    partnership_id: str
    budget_id: str
    year: str
    amount_pence: int
    previous_amount_pence: int | None = None


class FundingContributionRecorded(EventPayload):
    """A contribution (money and/or in kind) was recorded for a financial year."""

    event_name = "funding_contribution.recorded"
    partnership_id: str
    contribution_id: str
    year: str
    contributed_on: date | None = None
    contributor_kind: str
    contributor_name: str
    partner_id: str | None = None
    agency_id: str | None = None
    money_pence: int
    in_kind_pence: int
    decided_unilaterally: bool
    covers_shortfall: bool


class FundingContributionUpdated(EventPayload):
    """A contribution was corrected; ``changes`` names the fields, the values are current."""

    event_name = "funding_contribution.updated"
    partnership_id: str
    contribution_id: str
    year: str
    money_pence: int
    in_kind_pence: int
    decided_unilaterally: bool
    covers_shortfall: bool
    changes: list[str]


class FundingContributionWithdrawn(EventPayload):
    """A contribution was withdrawn (kept for history, left out of the analysis)."""

    event_name = "funding_contribution.withdrawn"
    partnership_id: str
    contribution_id: str
    year: str
