"""Helpers for the case lifecycle tests: a client allowed every lifecycle event, request
bodies, and driving a case along the state machine over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from tests.reviews.reviews_support import (
    SeededClient,
    SettableClock,
    incident_body,
    seed_client,
)

LIFECYCLE_GRANTS = (
    "incident.notified",
    "case.transitioned",
    "rapid_review.submitted",
    "local_review.decided",
    "panel_response.recorded",
    "final_report.shared",
    "review.published",
    "review_withholding.recorded",
)


async def lifecycle_client(app: FastAPI, partnership_id: str) -> SeededClient:
    return await seed_client(app, partnership_id, allowed=LIFECYCLE_GRANTS)


def rapid_review_body(decision: str = "local_review", **changes: Any) -> dict[str, Any]:
    criteria = {
        "local_review": ["reg11.improvements_needed", "reg11.multi_agency_concerns"],
        "no_local_review": [],
        "national_review_recommended": ["reg3.complex_or_national_importance"],
    }.get(decision, [])
    body: dict[str, Any] = {
        "participants": [
            {"agency": "Leeds City Council children's services", "role": "chair"},
            {"agency": "West Yorkshire Police"},
            {"agency": "Leeds Teaching Hospitals"},
        ],
        "facts": "Agency involvement over the 6 months before the incident.",
        "key_practice_episodes": ["Health visitor referral not followed up"],
        "immediate_actions": [{"description": "Sibling safety plan", "owner_agency": "LCC"}],
        "family_context": "Housing insecurity; language barrier with services.",
        "learning": ["Information sharing between health and social care"],
        "decision": decision,
        "rationale": "Multi-agency concerns meet reg 11.",
        "criteria": criteria,
    }
    body.update(changes)
    return body


@dataclass
class Lifecycle:
    """One app, its clock and a client of one partnership, with shortcuts."""

    app: FastAPI
    http: httpx.AsyncClient
    clock: SettableClock
    partnership_id: str
    client: SeededClient

    async def new_case(self, headers: dict[str, str] | None = None, **changes: Any) -> str:
        body = incident_body(**changes)
        response = await self.http.post(
            "/incidents", json=body, headers=headers or self.client.headers
        )
        assert response.status_code == 201, response.text
        case_id: str = response.json()["case_id"]
        return case_id

    async def step(
        self, case_id: str, transition: str, headers: dict[str, str] | None = None, **payload: Any
    ) -> httpx.Response:
        return await self.http.post(
            f"/cases/{case_id}/transitions",
            json={"transition": transition, **payload},
            headers=headers or self.client.headers,
        )

    async def ok(self, case_id: str, transition: str, **payload: Any) -> dict[str, Any]:
        response = await self.step(case_id, transition, **payload)
        assert response.status_code == 200, response.text
        out: dict[str, Any] = response.json()
        return out

    async def to_decided(self, case_id: str, decision: str = "local_review") -> None:
        await self.ok(case_id, "start_rapid_review")
        put = await self.http.put(
            f"/cases/{case_id}/rapid-review",
            json=rapid_review_body(decision),
            headers=self.client.headers,
        )
        assert put.status_code == 201, put.text
        await self.ok(case_id, "submit_rapid_review")
        await self.ok(case_id, "decide")

    async def to_panel_responded(
        self, case_id: str, decision: str = "local_review", outcome: str = "agrees"
    ) -> None:
        await self.to_decided(case_id, decision)
        response = await self.http.post(
            f"/cases/{case_id}/panel-response",
            json={"outcome": outcome},
            headers=self.client.headers,
        )
        assert response.status_code == 201, response.text

    async def to_local_review_in_progress(self, case_id: str) -> None:
        await self.to_panel_responded(case_id)
        await self.ok(case_id, "commission_local_review")
        put = await self.http.put(
            f"/cases/{case_id}/local-review",
            json={
                "reviewer_name": "A. Reviewer",
                "reviewer_independence_declared": True,
                "terms_of_reference": "Scope: the 12 months before the incident.",
            },
            headers=self.client.headers,
        )
        assert put.status_code in (200, 201), put.text
        await self.ok(case_id, "start_local_review")

    async def to_final_report_shared(self, case_id: str, planned: str) -> None:
        await self.to_local_review_in_progress(case_id)
        report = await self.http.post(
            f"/cases/{case_id}/local-review/reports",
            json={"title": "Final report", "final": True, "url": "https://example.org/r.pdf"},
            headers=self.client.headers,
        )
        assert report.status_code == 201, report.text
        await self.ok(case_id, "share_final_report", planned_publication_on=planned)

    async def status(self, case_id: str) -> str:
        response = await self.http.get(f"/cases/{case_id}", headers=self.client.headers)
        assert response.status_code == 200, response.text
        status: str = response.json()["status"]
        return status
