"""Move some demo cases along their lifecycle (as partnership staff would), so the demo shows a
rapid review under way, a local review in progress with recommendations, and a closed case."""

from __future__ import annotations

from typing import Any

import httpx

from demo.http import ok

RAPID_REVIEW = {
    "participants": [
        {"agency": "Children's social care", "role": "Lead"},
        {"agency": "West Yorkshire Police"},
        {"agency": "Health visiting service"},
    ],
    "facts": "Known to universal services; two referrals in the previous year were closed "
    "after single-agency assessments.",
    "key_practice_episodes": ["Second referral closed without a strategy discussion"],
    "immediate_actions": [{"description": "Siblings' plans reviewed", "owner_agency": "Council"}],
    "family_context": "Housing insecurity; a parent with unmet mental health needs.",
    "learning": ["Information sharing between health visiting and the front door"],
    "decision": "local_review",
    "rationale": "Concerns about agencies working together and a recurrent local theme.",
    "criteria": ["reg11.multi_agency_concerns", "reg11.recurrent_themes"],
}
LATE = "Demo: the review group met after the deadline"


def _step(client: httpx.Client, reviews: str, case_id: str, transition: str, **extra: Any) -> Any:
    return ok(
        client.post(
            f"{reviews}/cases/{case_id}/transitions", json={"transition": transition, **extra}
        ),
        f"{transition} on {case_id}",
    )


def advance_cases(client: httpx.Client, reviews: str, case_ids: list[str]) -> list[str]:
    """The loader's cases, in order: [recent, 40 days, recent death, 60 days, LAC death]."""
    recent, overdue_rr, _death, old, lac_death = case_ids
    # A rapid review started but overdue (RR-15WD passed).
    _step(client, reviews, overdue_rr, "start_rapid_review")
    # The oldest case has reached its local review, with recommendations being worked on.
    _step(client, reviews, old, "start_rapid_review")
    ok(client.put(f"{reviews}/cases/{old}/rapid-review", json=RAPID_REVIEW), "rapid review")
    _step(client, reviews, old, "submit_rapid_review", late_reason=LATE)
    _step(client, reviews, old, "decide")
    ok(
        client.post(f"{reviews}/cases/{old}/panel-response", json={"outcome": "agrees"}),
        "panel response",
    )
    _step(client, reviews, old, "commission_local_review")
    ok(
        client.put(
            f"{reviews}/cases/{old}/local-review",
            json={
                "reviewer_name": "Pat Reviewer",
                "reviewer_organisation": "Independent",
                "reviewer_independence_declared": True,
                "reviewer_independence_statement": "No role in any agency involved",
                "terms_of_reference": "How agencies shared information in the year before "
                "the incident",
                "methodology": "Systems review with practitioner events",
            },
        ),
        "local review",
    )
    _step(client, reviews, old, "start_local_review")
    recommendation = ok(
        client.post(
            f"{reviews}/cases/{old}/recommendations",
            json={
                "source": "rapid_review",
                "text": "Health visiting to join the front door's daily triage",
                "owner_agency": "NHS West Yorkshire Integrated Care Board",
            },
        ),
        "recommendation",
    )
    ok(
        client.post(
            f"{reviews}/cases/{old}/recommendations/{recommendation['id']}/actions",
            json={"description": "Agree a rota", "owner_agency": "Health visiting service"},
        ),
        "action",
    )
    # A looked-after child's death without abuse or neglect: notified, no rapid review.
    _step(client, reviews, lac_death, "close_no_rapid_review_needed")
    del recent
    return [
        "cases: 2 notified, 1 rapid review in progress (overdue), 1 local review in progress "
        "with a recommendation, 1 closed (no rapid review needed)"
    ]
