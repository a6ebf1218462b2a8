"""Seniority of delegates, as data: each statutory partner's ranks, from its lead down.

domain.md section 1: leads may delegate to a senior officer who can speak with authority and
commit their organisation; the 2021 Wood review found police leadership often delegated to
superintendents, far below chief constable. A delegation more than the partner kind's threshold
of levels below the lead is flagged (thresholds are settings: ``PARTNERS_DELEGATION_MAX_LEVELS``).
The rank lists are our reading of the usual structures (verify locally); "other_senior_officer"
is for titles not listed and counts as the lowest listed level.
"""

from __future__ import annotations

from collections.abc import Mapping

RANKS: Mapping[str, tuple[str, ...]] = {
    "police": (
        "chief_constable",  # or Commissioner in London: the chief officer of police
        "deputy_chief_constable",
        "assistant_chief_constable",
        "chief_superintendent",
        "superintendent",
        "chief_inspector",
        "inspector",
    ),
    "health_board": (
        "chief_executive",  # the ICB's (before 1 July 2022 the CCG's accountable officer)
        "executive_director",  # e.g. chief nurse, executive director of nursing
        "deputy_director",
        "head_of_safeguarding",
        "designated_professional",
    ),
    "local_authority": (
        "chief_executive",
        "director_of_childrens_services",
        "assistant_director",
        "head_of_service",
        "service_manager",
    ),
}
OTHER = "other_senior_officer"

# How many levels below the lead a delegate may be before the delegation is flagged.
DEFAULT_MAX_LEVELS: Mapping[str, int] = {"police": 2, "health_board": 1, "local_authority": 1}


def levels_below_lead(kind: str, rank: str) -> int:
    """0 for the lead's own rank; ``OTHER`` counts as the lowest listed level."""
    ranks = RANKS[kind]
    if rank == OTHER:
        return len(ranks) - 1
    return ranks.index(rank)


def is_known_rank(kind: str, rank: str) -> bool:
    return rank == OTHER or rank in RANKS.get(kind, ())
