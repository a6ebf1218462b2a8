"""What published arrangements must contain, and when they must be implemented, as data.

Source: /work/shared/domain.md section 2 (seed 004, section 3.9): fifteen numbered items, plus
how concerns are escalated, how disputes are resolved and whistle-blowing, and the threshold
document (published by the partners; item 15 says how it aligns). Publication: implement within
3 months of publishing, the date stated in the document, and tell DfE with the link (seed 004,
4.7; rule ARR-DFE in domain.md section 4). Pure module: no I/O.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "DEFAULT_WINDOWS",
    "REQUIRED_ITEMS",
    "ContentItem",
    "ImplementationWindow",
    "Missing",
    "add_months",
    "check_implementation_date",
    "missing_items",
    "window_for",
]


@dataclass(frozen=True)
class ContentItem:
    """One required content item: its field in the document, its number in domain.md 2."""

    key: str
    number: int | None
    title: str
    kind: str = "text"  # text | partners | agencies | url


REQUIRED_ITEMS: tuple[ContentItem, ...] = (
    ContentItem("working_together", 1, "How the partners work together to identify and respond "
                "to the needs of children in the area"),
    ContentItem("practice_reviews", 2, "Commissioning and publishing local child safeguarding "
                "practice reviews"),
    ContentItem("independent_scrutiny", 3, "Independent scrutiny of the arrangements' "
                "effectiveness"),
    ContentItem("partners", 4, "Who the three partners are (lead and delegated partners by "
                "name)", kind="partners"),
    ContentItem("geographical_boundaries", 5, "The geographical boundaries"),
    ContentItem("relevant_agencies", 6, "The relevant agencies and why each was chosen",
                kind="agencies"),
    ContentItem("collaboration", 7, "How they collaborate to improve outcomes"),
    ContentItem("education_settings", 8, "How all education settings are included"),
    ContentItem("youth_custody_and_residential", 9, "How youth custody and residential homes "
                "are included"),
    ContentItem("data_and_intelligence", 10, "How data and intelligence are used to assess "
                "effectiveness, including of early help"),
    ContentItem("training_and_audits", 11, "How inter-agency training is commissioned, "
                "delivered and monitored, and how multi-agency audits are done"),
    ContentItem("funding", 12, "How the arrangements are funded, including contributions agreed "
                "with relevant agencies"),
    ContentItem("reviews_and_learning", 13, "The process for local reviews and for embedding "
                "learning"),
    ContentItem("voice_of_children", 14, "How the voice of children and families is included"),
    ContentItem("threshold_alignment", 15, "How the threshold document aligns with the "
                "arrangements"),
    ContentItem("escalation", None, "How concerns are escalated"),
    ContentItem("dispute_resolution", None, "How disputes are resolved"),
    ContentItem("whistleblowing", None, "Whistle-blowing"),
    ContentItem("threshold_document_url", None, "Link to the published threshold document",
                kind="url"),
)  # fmt: skip

STATUTORY_KINDS: tuple[str, ...] = ("local_authority", "health_board", "police")


@dataclass(frozen=True)
class Missing:
    item: str
    number: int | None
    title: str
    detail: str


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def missing_items(
    content: Mapping[str, Any], items: Sequence[ContentItem] = REQUIRED_ITEMS
) -> list[Missing]:
    """Every required item the document lacks, in domain.md order (empty: complete)."""
    out: list[Missing] = []
    for item in items:
        value = content.get(item.key)
        problem: str | None = None
        if item.kind == "partners":
            problem = _partners_problem(value)
        elif item.kind == "agencies":
            if not value:
                problem = "name the relevant agencies, each with the reason it was chosen"
            elif any(_blank(a.get("name")) or _blank(a.get("reason")) for a in value):
                problem = "every relevant agency needs a name and the reason it was chosen"
        elif _blank(value):
            problem = "missing"
        if problem:
            out.append(Missing(item.key, item.number, item.title, problem))
    return out


def _partners_problem(value: Any) -> str | None:
    """All three statutory partners, each with its lead named (WT2023, domain.md 1 and 2)."""
    partners = value or []
    kinds = {p.get("kind") for p in partners}
    absent = [k for k in STATUTORY_KINDS if k not in kinds]
    if absent:
        return "missing statutory partner(s): " + ", ".join(absent)
    unnamed = sorted({p.get("kind") for p in partners if _blank(p.get("lead_name"))})
    if unnamed:
        return "name the lead representative of: " + ", ".join(str(k) for k in unnamed)
    return None


@dataclass(frozen=True)
class ImplementationWindow:
    """The implementation date must be on or after publication and within ``months`` of it.

    Data, with the edition it comes from and its dates in force, so a change of guidance is a
    new row, not a code change.
    """

    rule_id: str
    months: int
    edition: str
    effective_from: date
    effective_to: date | None
    source: str


DEFAULT_WINDOWS: tuple[ImplementationWindow, ...] = (
    ImplementationWindow(
        rule_id="ARR-DFE",
        months=3,
        edition="WT2018",
        effective_from=date(2018, 6, 29),
        effective_to=None,
        source="domain.md section 2 and 4 (seed 004, 4.7): implement within 3 months",
    ),
)


def window_for(
    published_on: date, windows: Sequence[ImplementationWindow] = DEFAULT_WINDOWS
) -> ImplementationWindow:
    """The window in force on the publication date (the latest that started by then)."""
    in_force = [
        w
        for w in windows
        if w.effective_from <= published_on
        and (w.effective_to is None or published_on <= w.effective_to)
    ]
    if not in_force:
        # Before the 2018 arrangements existed: the earliest rule is the only reading we have.
        return min(windows, key=lambda w: w.effective_from)
    return max(in_force, key=lambda w: w.effective_from)


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's end: 30 November + 3 months = 28/29 February."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_implementation_date(
    published_on: date, implementation_date: date, window: ImplementationWindow
) -> str | None:
    """Why the implementation date is refused, or None if it is inside the window."""
    latest = add_months(published_on, window.months)
    if implementation_date < published_on:
        return (
            f"The implementation date {implementation_date.isoformat()} is before publication "
            f"({published_on.isoformat()})."
        )
    if implementation_date > latest:
        return (
            f"The implementation date must be within {window.months} months of publication: "
            f"on or before {latest.isoformat()} ({window.rule_id}, {window.edition})."
        )
    return None
