"""Funding rules as data: financial years, proportionate shares and the equity flags.

Source: /work/shared/domain.md section 3. Partners agree each one's contribution, "equitable and
proportionate", recorded per financial year (1 April to 31 March) per contributor, money and in
kind. Known failures the flags look for: a partner paying far below its proportionate share,
one body deciding its contribution unilaterally (a flat GBP 5,000 to each of 32 London boroughs
regardless of size), and the council covering every shortfall.

Every threshold below is data (:class:`FundingRules`), never a literal in the checks; a
partnership can override the tolerance on its funding settings. Pure module: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

__all__ = [
    "BASES",
    "DEFAULT_RULES",
    "Basis",
    "ContributorTotal",
    "FundingRules",
    "PartnerShare",
    "financial_year_of",
    "flat_amount_across_partnerships",
    "parse_financial_year",
    "proportionate_shares",
    "year_bounds",
]

Basis = Literal["equal_thirds", "child_population", "custom"]
BASES: tuple[str, ...] = ("equal_thirds", "child_population", "custom")
ContributorKind = Literal["statutory_partner", "relevant_agency", "other"]

_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
# domain.md section 3: the financial year runs 1 April to 31 March.
YEAR_START_MONTH, YEAR_START_DAY = 4, 1


@dataclass(frozen=True)
class FundingRules:
    """The thresholds of the equity analysis (domain.md section 3), as data.

    ``default_tolerance``: a partner is flagged when what it pays is below its proportionate
    share by more than this fraction (0.25: flagged below 75% of its share; exactly 75% is not
    flagged). ``flat_min_partnerships`` and ``flat_size_ratio``: the same flat amount from one
    contributor in at least that many partnerships whose child populations differ by at least
    that ratio (largest / smallest) looks decided unilaterally, regardless of size.
    """

    default_tolerance: Decimal = Decimal("0.25")
    flat_min_partnerships: int = 3
    flat_size_ratio: Decimal = Decimal("2")
    source: str = "domain.md section 3 (WT2018 / WT2023: equitable and proportionate funding)"


DEFAULT_RULES = FundingRules()


def parse_financial_year(text: str) -> int:
    """The starting calendar year of a financial year written "2025-26"; ValueError if not."""
    match = _YEAR.match(text)
    if match is None:
        raise ValueError("a financial year reads like 2025-26")
    start, end = int(match.group(1)), int(match.group(2))
    if end != (start + 1) % 100:
        raise ValueError(f"{text} is not a financial year: {start} is followed by {start + 1}")
    if not 1990 <= start <= 2100:
        raise ValueError(f"{text} is out of range")
    return start


def format_financial_year(start: int) -> str:
    return f"{start}-{(start + 1) % 100:02d}"


def financial_year_of(day: date) -> str:
    """The financial year a day falls in: 31 March 2026 is in 2025-26, 1 April 2026 in 2026-27."""
    start = day.year if (day.month, day.day) >= (YEAR_START_MONTH, YEAR_START_DAY) else day.year - 1
    return format_financial_year(start)


def year_bounds(year: str) -> tuple[date, date]:
    """First and last day of a financial year (1 April, 31 March)."""
    start = parse_financial_year(year)
    return date(start, YEAR_START_MONTH, YEAR_START_DAY), date(start + 1, 3, 31)


@dataclass(frozen=True)
class ContributorTotal:
    """What one contributor gave in a year (money and in-kind value, pence)."""

    key: str
    name: str
    kind: ContributorKind
    partner_id: str | None
    partner_kind: str | None
    money_pence: int
    in_kind_pence: int
    decided_unilaterally: bool = False
    covers_shortfall: bool = False

    @property
    def total_pence(self) -> int:
        return self.money_pence + self.in_kind_pence


@dataclass(frozen=True)
class PartnerShare:
    partner_id: str
    weight: Decimal
    expected_share: Decimal
    expected_pence: int
    actual_pence: int
    actual_share: Decimal | None
    below_share: bool
    above_share: bool


def weights_for(
    basis: str, partner_ids: Sequence[str], weights: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Each statutory partner's weight under the chosen basis (equal thirds: 1 each)."""
    if basis == "equal_thirds":
        return {pid: Decimal(1) for pid in partner_ids}
    return {pid: Decimal(weights.get(pid, 0)) for pid in partner_ids}


def proportionate_shares(
    basis: str,
    partner_ids: Sequence[str],
    weights: Mapping[str, Decimal],
    paid: Mapping[str, int],
    tolerance: Decimal,
) -> list[PartnerShare]:
    """Compare what each statutory partner paid with its share of what the partners paid.

    The base is the statutory partners' combined contribution, so the flag is about fairness
    between them; the shortfall against the budget is reported apart. Exact arithmetic: a
    partner at exactly ``(1 - tolerance)`` of its share is not flagged.
    """
    w = weights_for(basis, partner_ids, weights)
    total_weight = sum(w.values(), Decimal(0))
    base = sum((paid.get(pid, 0) for pid in partner_ids), 0)
    out: list[PartnerShare] = []
    for pid in partner_ids:
        actual = paid.get(pid, 0)
        expected_share = w[pid] / total_weight if total_weight > 0 else Decimal(0)
        expected = w[pid] * base / total_weight if total_weight > 0 else Decimal(0)
        # Cross-multiplied so no division rounds: at exactly the edge, nothing is flagged.
        scaled_actual, scaled_due = Decimal(actual) * total_weight, w[pid] * base
        below = base > 0 and scaled_actual < scaled_due * (1 - tolerance)
        above = base > 0 and scaled_actual > scaled_due * (1 + tolerance)
        out.append(
            PartnerShare(
                partner_id=pid,
                weight=w[pid],
                expected_share=expected_share.quantize(Decimal("0.0001")),
                expected_pence=int(expected.to_integral_value()),
                actual_pence=actual,
                actual_share=(Decimal(actual) / base).quantize(Decimal("0.0001")) if base else None,
                below_share=below,
                above_share=above,
            )
        )
    return out


@dataclass(frozen=True)
class FlatAmountFinding:
    """The same money amount from one contributor across partnerships of different size."""

    amount_pence: int
    partnership_ids: list[str] = field(default_factory=list)
    smallest_population: int = 0
    largest_population: int = 0


def flat_amount_across_partnerships(
    amount_pence: int,
    amounts_by_partnership: Mapping[str, int],
    populations: Mapping[str, int | None],
    rules: FundingRules = DEFAULT_RULES,
) -> FlatAmountFinding | None:
    """Did the contributor give this same flat amount to partnerships of very different size?

    ``amounts_by_partnership``: the contributor's money in the year per partnership (this one
    included); ``populations``: each partnership's child population (None: unknown, ignored).
    """
    if amount_pence <= 0:
        return None
    same = sorted(pid for pid, amount in amounts_by_partnership.items() if amount == amount_pence)
    if len(same) < rules.flat_min_partnerships:
        return None
    known = [p for pid in same if (p := populations.get(pid)) is not None and p > 0]
    if len(known) < 2:
        return None
    smallest, largest = min(known), max(known)
    if Decimal(largest) < Decimal(smallest) * rules.flat_size_ratio:
        return None
    return FlatAmountFinding(amount_pence, same, smallest, largest)
