"""Who may notify and who may see a case: another partnership's case answers 404, a client
system needs "incident.notified" to notify, and a missing or revoked token is a 401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from services.reviews.app import create_app
from shared.processes import EmbeddedBroker
from tests.reviews.reviews_support import (
    BRADFORD,
    LEEDS,
    SeededClient,
    SettableClock,
    at_noon,
    count_rows,
    incident_body,
    reviews_settings,
    revoke_client,
    seed_client,
    seed_partnership,
)
from tests.support.apps import ADMIN, running_app

pytestmark = pytest.mark.timeout(60)


@dataclass
class World:
    app: FastAPI
    http: httpx.AsyncClient
    a: str  # Leeds partnership
    b: str  # Bradford partnership
    a_client: SeededClient
    b_client: SeededClient
    a_case: str
    b_case: str


@pytest_asyncio.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reviews-access')}/reviews.db"
    app = create_app(
        reviews_settings(url, broker), clock=SettableClock(at_noon(date(2026, 12, 21)))
    )
    async with running_app(app) as http:
        a, b = await seed_partnership(app, LEEDS), await seed_partnership(app, BRADFORD)
        a_client, b_client = await seed_client(app, a), await seed_client(app, b)
        a_case = await http.post("/incidents", json=incident_body(), headers=a_client.headers)
        b_case = await http.post(
            "/incidents", json=incident_body(council_ons_code=BRADFORD), headers=b_client.headers
        )
        assert a_case.status_code == b_case.status_code == 201
        yield World(
            app, http, a, b, a_client, b_client, a_case.json()["case_id"], b_case.json()["case_id"]
        )


async def test_another_partnerships_case_is_not_found(world: World) -> None:
    mine = await world.http.get(f"/cases/{world.b_case}", headers=world.b_client.headers)
    theirs = await world.http.get(f"/cases/{world.a_case}", headers=world.b_client.headers)
    missing = await world.http.get("/cases/no-such-case", headers=world.b_client.headers)
    assert mine.status_code == 200
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == missing.json()["detail"] == "Case not found."


async def test_lists_show_only_the_callers_partnership(world: World) -> None:
    b_list = await world.http.get("/cases", headers=world.b_client.headers)
    assert [c["case_id"] for c in b_list.json()["items"]] == [world.b_case]
    assert b_list.json()["total"] == 1
    asked_for_a = await world.http.get(
        "/cases", params={"partnership_id": world.a}, headers=world.b_client.headers
    )
    assert asked_for_a.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    everything = await world.http.get("/cases", headers=ADMIN)
    assert {c["case_id"] for c in everything.json()["items"]} >= {world.a_case, world.b_case}
    only_a = await world.http.get("/cases", params={"partnership_id": world.a}, headers=ADMIN)
    assert [c["case_id"] for c in only_a.json()["items"]] == [world.a_case]


async def test_list_is_paginated_and_filtered(world: World) -> None:
    page = await world.http.get("/cases", params={"limit": 1, "offset": 1}, headers=ADMIN)
    assert page.status_code == 200
    assert (len(page.json()["items"]), page.json()["limit"], page.json()["offset"]) == (1, 1, 1)
    bad = await world.http.get("/cases", params={"status": "archived", "limit": 0}, headers=ADMIN)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"query.status", "query.limit"}


async def test_a_client_without_incident_notified_is_forbidden(world: World) -> None:
    reader = await seed_client(world.app, world.a, allowed=("rapid_review.submitted",))
    before = await count_rows(world.app, "case")
    response = await world.http.post("/incidents", json=incident_body(), headers=reader.headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_rows(world.app, "case") == before
    # Reading its own partnership's cases needs no event-type grant.
    assert (await world.http.get(f"/cases/{world.a_case}", headers=reader.headers)).is_success


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer masa_not-a-real-token"}, {"Authorization": "Basic abc"}],
    ids=["no token", "unknown token", "wrong scheme"],
)
async def test_without_a_valid_token_it_is_a_401(world: World, headers: dict[str, str]) -> None:
    for response in (
        await world.http.post("/incidents", json=incident_body(), headers=headers),
        await world.http.get("/cases", headers=headers),
        await world.http.get(f"/cases/{world.a_case}", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_revoked_token_is_a_401(world: World) -> None:
    client = await seed_client(world.app, world.a)
    assert (await world.http.get("/cases", headers=client.headers)).status_code == 200
    await revoke_client(world.app, client, world.a)
    response = await world.http.post("/incidents", json=incident_body(), headers=client.headers)
    assert response.status_code == 401
    assert (await world.http.get("/cases", headers=client.headers)).status_code == 401
