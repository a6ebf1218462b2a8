"""Refused notifications: each answers an RFC 9457 problem naming what is wrong, and writes
nothing (no case, no deadline, no outbox event, no audit entry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.reviews.app import create_app
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    BRADFORD,
    KIRKLEES,
    LEEDS,
    SeededClient,
    SettableClock,
    at_noon,
    count_rows,
    incident_body,
    reviews_settings,
    seed_client,
    seed_partnership,
)
from tests.support.apps import ADMIN, running_app

pytestmark = pytest.mark.timeout(60)

TODAY = date(2026, 12, 21)
TABLES = ("case", "case_deadline", "outbox_event", "audit_entry")


@dataclass
class Service:
    app: FastAPI
    http: httpx.AsyncClient
    leeds: str
    bradford: str
    client: SeededClient


@pytest_asyncio.fixture(scope="module")
async def service(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Service]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reviews-validation')}/reviews.db"
    app = create_app(reviews_settings(url, broker), clock=SettableClock(at_noon(TODAY)))
    async with running_app(app) as http:
        leeds = await seed_partnership(app, LEEDS)
        bradford = await seed_partnership(app, BRADFORD)
        yield Service(app, http, leeds, bradford, await seed_client(app, leeds))


async def _counts(app: FastAPI) -> dict[str, int]:
    return {table: await count_rows(app, table) for table in TABLES}


async def _refused(
    service: Service,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Post, and check that the refusal left every table as it was."""
    before = await _counts(service.app)
    response = await service.http.post(
        "/incidents",
        json=json,
        content=content,
        headers={"content-type": "application/json", **(headers or service.client.headers)},
    )
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert await _counts(service.app) == before
    listed = await service.http.get("/cases", headers=ADMIN)
    assert listed.json()["total"] == before["case"]
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code
    return response.status_code, problem


def _fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def test_malformed_json_is_a_400(service: Service) -> None:
    status, problem = await _refused(service, content=b'{"client_reference": "x",')
    assert status == 400
    assert problem["title"] == "Malformed JSON"


async def test_missing_fields_are_each_named(service: Service) -> None:
    body = incident_body()
    for name in ("council_ons_code", "kind", "aware_on", "children"):
        del body[name]
    status, problem = await _refused(service, json=body)
    assert status == 422
    assert _fields(problem) == {"council_ons_code", "kind", "aware_on", "children"}
    assert {e["pointer"] for e in problem["errors"]} >= {"#/aware_on", "#/children"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"abuse_or_neglect_known_or_suspected": "perhaps"}, "abuse_or_neglect_known_or_suspected"),
        ({"aware_on": "18/12/2026"}, "aware_on"),
        ({"children": [{"reference": "LCC-1", "age_years": "three"}]}, "children.0.age_years"),
        ({"kind": "burglary"}, "kind"),
        ({"nature": "unhappy"}, "nature"),
        ({"council_ons_code": "Leeds"}, "council_ons_code"),
        ({"children": {"reference": "LCC-1"}}, "children"),
        ({"involved_council_ons_codes": ["W06000015"]}, "involved_council_ons_codes.0"),
        ({"location": "x" * 201}, "location"),
        ({"client_reference": ""}, "client_reference"),
        ({"surname": "Smith"}, "surname"),
    ],
)
async def test_wrong_types_and_shapes(
    service: Service, changes: dict[str, Any], field: str
) -> None:
    status, problem = await _refused(service, json=incident_body(**changes))
    assert status == 422
    assert field in _fields(problem)


@pytest.mark.parametrize(
    ("child", "field"),
    [
        ({"reference": "Jane Smith", "age_years": 3}, "children.0.reference"),
        ({"reference": "JaneSmith", "age_years": 3}, "children.0.reference"),
        ({"reference": "C1" * 30, "age_years": 3}, "children.0.reference"),
        ({"reference": "LCC-C-1", "age_years": 25}, "children.0.age_years"),
        ({"reference": "LCC-C-1", "age_years": -1}, "children.0.age_years"),
        ({"reference": "LCC-C-1", "age_years": 3, "name": "Jane"}, "children.0.name"),
        ({"reference": "LCC-C-1", "age_years": 3, "sex": "girl"}, "children.0.sex"),
    ],
)
async def test_child_details_are_minimised_and_checked(
    service: Service, child: dict[str, Any], field: str
) -> None:
    status, problem = await _refused(service, json=incident_body(children=[child]))
    assert status == 422
    assert field in _fields(problem)


async def test_at_most_four_children(service: Service) -> None:
    children = [{"reference": f"LCC-C-{i}", "age_years": i} for i in range(5)]
    status, problem = await _refused(service, json=incident_body(children=children))
    assert status == 422
    assert _fields(problem) == {"children"}


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"aware_on": "2026-12-22"}, {"aware_on"}),  # tomorrow
        ({"incident_date": "2026-12-22", "aware_on": "2026-12-21"}, {"incident_date", "aware_on"}),
        ({"incident_date": "2026-12-19", "aware_on": "2026-12-18"}, {"aware_on"}),
        ({"council_ons_code": BRADFORD}, {"council_ons_code"}),  # another partnership's
        ({"council_ons_code": KIRKLEES}, {"council_ons_code"}),  # no partnership here
        (
            {
                "nature": "serious_harm",
                "kind": "care_leaver_death",
                "abuse_or_neglect_known_or_suspected": False,
            },
            {"nature"},
        ),
        ({"children": [{"reference": "LCC-C-1", "age_years": 19}]}, {"children.0.age_years"}),
        (
            {
                "kind": "looked_after_child_death",
                "nature": "death",
                "children": [{"reference": "LCC-C-1", "age_years": 9, "looked_after": False}],
            },
            {"children"},
        ),
        ({"further_children_note": "two more siblings"}, {"further_children_note"}),
        ({"abuse_or_neglect_known_or_suspected": False}, {"abuse_or_neglect_known_or_suspected"}),
        # a care leaver's death is a WT2023 duty: no rule was in force in 2022
        (
            {
                "kind": "care_leaver_death",
                "nature": "death",
                "incident_date": "2022-05-01",
                "aware_on": "2022-05-02",
                "abuse_or_neglect_known_or_suspected": False,
                "children": [{"reference": "LCC-CL-1", "age_years": 20}],
            },
            {"aware_on"},
        ),
    ],
)
async def test_rules_across_fields_name_the_field(
    service: Service, changes: dict[str, Any], fields: set[str]
) -> None:
    status, problem = await _refused(service, json=incident_body(**changes))
    assert status == 422
    assert _fields(problem) == fields
    assert problem["type"].endswith("/validation-error")


async def test_unknown_partnership_is_a_404(service: Service) -> None:
    status, problem = await _refused(
        service, json=incident_body(partnership_id="no-such-partnership"), headers=ADMIN
    )
    assert status == 404
    assert problem["detail"] == "Partnership not found."


async def test_the_operator_must_name_the_partnership(service: Service) -> None:
    status, problem = await _refused(service, json=incident_body(), headers=ADMIN)
    assert status == 422
    assert _fields(problem) == {"partnership_id"}


async def test_a_client_cannot_notify_for_another_partnership(service: Service) -> None:
    for other in (service.bradford, "no-such-partnership"):  # existing or not: the same 404
        status, problem = await _refused(
            service, json=incident_body(partnership_id=other, council_ons_code=BRADFORD)
        )
        assert status == 404
        assert problem["detail"] == "Partnership not found."


async def test_a_reused_reference_with_another_body_is_a_conflict(service: Service) -> None:
    body = incident_body()
    first = await service.http.post("/incidents", json=body, headers=service.client.headers)
    assert first.status_code == 201
    status, problem = await _refused(service, json={**body, "location": "School, LS2"})
    assert status == 409
    assert problem["case_id"] == first.json()["case_id"]
