"""The demo's registry records beyond the partnership itself: relevant agencies, scrutiny,
strategic links, funding for two financial years and published arrangements."""

from __future__ import annotations

from typing import Any

import httpx

from demo.http import ok

ARRANGEMENTS_TEXT = {
    "working_together": "The three partners meet monthly as the executive and share one "
    "business unit; a multi-agency front door triages concerns.",
    "practice_reviews": "A case review group considers every serious incident within 15 "
    "working days and commissions local reviews from an independent pool.",
    "independent_scrutiny": "An independent scrutineer reports twice a year to the executive "
    "and publishes a summary.",
    "collaboration": "Joint priorities: neglect, exploitation, and the transition to adulthood.",
    "education_settings": "Every school, college and early years setting is a relevant agency "
    "through its proprietor or governing body; an education reference group meets termly.",
    "youth_custody_and_residential": "Children's homes and the secure estate take part through "
    "a residential providers' forum.",
    "data_and_intelligence": "A quarterly dataset (including early help) and multi-agency "
    "audits measure effectiveness.",
    "training_and_audits": "The business unit commissions inter-agency training and runs four "
    "themed multi-agency audits a year.",
    "funding": "Agreed contributions from the three partners, with in-kind support from "
    "relevant agencies, reviewed each financial year.",
    "reviews_and_learning": "Learning from reviews is tracked to actions in this platform and "
    "reported in the yearly report.",
    "voice_of_children": "A young advisors' group reviews priorities and materials.",
    "threshold_alignment": "The threshold document is owned by the executive and reviewed "
    "each year with the arrangements.",
    "escalation": "Professional disagreements escalate through three stages to the executive.",
    "dispute_resolution": "Disputes between partners go to the lead representatives, then an "
    "independent mediator.",
    "whistleblowing": "Each agency's whistle-blowing policy applies; concerns about the "
    "partnership go to the independent scrutineer.",
}

AGENCIES: list[dict[str, Any]] = [
    {
        "name": "White Rose Academies Trust",
        "category": "academy_proprietor",
        "reason": "Proprietor of most secondary schools in the area",
        "contributions": [
            {
                "kind": "staff",
                "description": "A designated safeguarding lead seconded one day a week",
            }
        ],
    },
    {
        "name": "Leeds Teaching Hospitals NHS Trust",
        "category": "nhs_trust",
        "reason": "Acute and children's hospital services; hosts the designated doctor",
        "contributions": [{"kind": "accommodation", "description": "Meeting rooms"}],
    },
    {
        "name": "Sunrise Children's Homes Ltd",
        "category": "childrens_home",
        "reason": "Runs six children's homes in the area",
    },
]


def load_records(
    client: httpx.Client, partners: str, p: dict[str, Any], *, regional: bool
) -> dict[str, Any]:
    """Everything but the partnership itself; returns the funding analysis of the last year."""
    base = f"{partners}/partnerships/{p['id']}"
    agencies = []
    for agency in AGENCIES:
        body = {**agency, "named_on": "2019-09-29", "last_reviewed_on": "2025-10-01"}
        agencies.append(ok(client.post(f"{base}/agencies", json=body), "agency"))
    ok(
        client.post(
            f"{base}/scrutiny",
            json={
                "model": "independent_scrutineer",
                "scrutineers": [
                    {
                        "name": "Dr Morgan Lee",
                        "organisation": "Independent",
                        "independence_statement": "Not employed by any partner or relevant "
                        "agency in the last five years",
                    }
                ],
                "scope": "Effectiveness of the arrangements, including how serious cases are "
                "identified and reviewed",
                "reporting_arrangements": "Reports to the executive twice a year; published",
                "starts_on": "2024-04-01",
            },
        ),
        "scrutiny",
    )
    for kind, name in (
        ("health_and_wellbeing_board", "Health and Wellbeing Board"),
        ("community_safety_partnership", "Community Safety Partnership"),
        ("adult_safeguarding_board", "Safeguarding Adults Board"),
    ):
        ok(
            client.post(
                f"{base}/strategic-links",
                json={"name": name, "kind": kind, "linked_from": "2019-09-29"},
            ),
            "strategic link",
        )
    analysis = _funding(client, base, p, regional=regional)
    _arrangements(client, base, p, agencies)
    return analysis


def _funding(
    client: httpx.Client, base: str, p: dict[str, Any], *, regional: bool
) -> dict[str, Any]:
    statutory = p["partners"]
    police = next(x for x in statutory if x["kind"] == "police")
    ok(client.patch(f"{base}/funding/settings", json={"basis": "equal_thirds"}), "settings")
    budget = 1_200_000_00 if regional else 600_000_00
    analysis: dict[str, Any] = {}
    for year in ("2025-26", "2026-27"):
        ok(
            client.post(f"{base}/funding/budgets", json={"year": year, "amount_pence": budget}),
            "budget",
        )
        share = budget // len(statutory)
        for partner in statutory:
            money = share
            unilateral = False
            if regional and partner["id"] == police["id"]:
                money, unilateral = 5_000_00, True  # a flat amount set by the force alone
            ok(
                client.post(
                    f"{base}/funding/contributions",
                    json={
                        "year": year,
                        "contributor": {"kind": "statutory_partner", "partner_id": partner["id"]},
                        "money_pence": money,
                        "decided_unilaterally": unilateral,
                    },
                ),
                "contribution",
            )
        analysis = ok(client.get(f"{base}/funding/{year}/analysis"), "analysis")
    return analysis


def _arrangements(
    client: httpx.Client, base: str, p: dict[str, Any], agencies: list[dict[str, Any]]
) -> None:
    content = {
        **ARRANGEMENTS_TEXT,
        "partners": [
            {
                "kind": x["kind"],
                "organisation": x["organisation"],
                "lead_name": f"Lead of {x['organisation']}",
                "lead_role": x["lead_role"],
            }
            for x in p["partners"]
        ],
        "geographical_boundaries": ", ".join(c["name"] for c in p["councils"]),
        "relevant_agencies": [{"name": a["name"], "reason": a["reason"]} for a in agencies],
        "threshold_document_url": "https://example.org/safeguarding/threshold-document",
    }
    draft = ok(client.post(f"{base}/arrangements", json={"content": content}), "arrangements")
    version = draft.get("version") or draft.get("arrangements_version")
    ok(
        client.post(
            f"{base}/arrangements/{version}/publish",
            json={
                "url": "https://example.org/safeguarding/arrangements-2026.pdf",
                "published_on": "2026-06-01",
                "implementation_date": "2026-08-01",
            },
        ),
        "publish arrangements",
    )
