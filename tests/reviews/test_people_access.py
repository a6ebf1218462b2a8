"""People act for their partnership in the reviews service (issues 3 and 4): the operator
registers them in the partners service, and the reviews service learns them from the events it
publishes. A council safeguarding officer notifies an incident; an independent scrutineer reads
cases but may not notify; another partnership's person gets 404; a revoked token gets 401."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlmodel import col, select

from services.partners.app import create_app as create_partners
from services.partners.settings import PartnersSettings
from services.reviews.app import create_app as create_reviews
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry, ClientCredential
from tests.reviews.reviews_support import (
    BRADFORD,
    LEEDS,
    SettableClock,
    at_noon,
    count_rows,
    incident_body,
    reviews_settings,
    runtime_of,
)
from tests.support.apps import ADMIN, running_app

pytestmark = pytest.mark.timeout(90)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    app: FastAPI
    http: httpx.AsyncClient
    officer: dict[str, Any]  # Leeds: council_safeguarding_officer
    scrutineer: dict[str, Any]  # Leeds: independent_scrutineer
    bradford: dict[str, Any]  # Bradford: council_safeguarding_officer
    revoked: dict[str, Any]  # Leeds: business_manager, then revoked


def partnership(name: str, ons_code: str) -> dict[str, Any]:
    return {
        "name": name,
        "councils": [{"name": f"{name} council", "ons_code": ons_code}],
        "partners": [
            {"kind": kind, "organisation": f"{name} {kind}", "lead_role": "Chief Executive"}
            for kind in ("local_authority", "health_board", "police")
        ],
    }


async def register(
    partners: httpx.AsyncClient, partnership_id: str, name: str, role: str
) -> dict[str, Any]:
    response = await partners.post(
        f"/partnerships/{partnership_id}/people",
        json={"name": name, "organisation": "Council", "roles": [role]},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    person: dict[str, Any] = response.json()
    person["headers"] = bearer(person["credential"]["token"])
    return person


async def learned(app: FastAPI, revoked_credential: str) -> None:
    """Wait until the reviews service's own consumer has applied the partners events (the last
    one published is the revocation), so the test goes through Kafka like production."""
    for _ in range(300):
        async with runtime_of(app).db.read() as session:
            row = await session.get(ClientCredential, revoked_credential)
        if row is not None and row.revoked_at is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the reviews service never learned the people")


@pytest_asyncio.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("reviews-people")
    partners_app = create_partners(
        PartnersSettings(
            database_url=f"sqlite:///{folder}/partners.db",
            environment="test",
            kafka_bootstrap_servers=broker.bootstrap_servers,
        )
    )
    app = create_reviews(
        reviews_settings(f"sqlite:///{folder}/reviews.db", broker),
        clock=SettableClock(at_noon(date(2026, 12, 21))),
    )
    async with running_app(partners_app) as partners, running_app(app) as http:
        leeds = (
            await partners.post("/partnerships", json=partnership("Leeds", LEEDS), headers=ADMIN)
        ).json()
        brad = (
            await partners.post(
                "/partnerships", json=partnership("Bradford", BRADFORD), headers=ADMIN
            )
        ).json()
        officer = await register(
            partners, leeds["id"], "Asha Patel", "council_safeguarding_officer"
        )
        scrutineer = await register(partners, leeds["id"], "Sam Reid", "independent_scrutineer")
        bradford = await register(partners, brad["id"], "Jo Khan", "council_safeguarding_officer")
        revoked = await register(partners, leeds["id"], "Lee Moss", "business_manager")
        gone = await partners.delete(
            f"/partnerships/{leeds['id']}/people/{revoked['person_id']}", headers=ADMIN
        )
        assert gone.status_code == 204
        await learned(app, revoked["credential"]["credential_id"])
        yield World(app, http, officer, scrutineer, bradford, revoked)


async def test_a_council_safeguarding_officer_notifies_an_incident(world: World) -> None:
    response = await world.http.post(
        "/incidents", json=incident_body(), headers=world.officer["headers"]
    )
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]
    seen = await world.http.get(f"/cases/{case_id}", headers=world.officer["headers"])
    assert seen.status_code == 200
    # the audit trail names the person who notified it
    async with runtime_of(world.app).db.read() as session:
        actors = (
            await session.exec(select(AuditEntry.actor).where(col(AuditEntry.entity_id) == case_id))
        ).all()
    assert f"person:{world.officer['person_id']}" in actors


async def test_a_scrutineer_reads_cases_but_may_not_notify(world: World) -> None:
    made = await world.http.post(
        "/incidents", json=incident_body(), headers=world.officer["headers"]
    )
    case_id = made.json()["case_id"]
    one = await world.http.get(f"/cases/{case_id}", headers=world.scrutineer["headers"])
    assert one.status_code == 200, one.text
    listed = await world.http.get("/cases", headers=world.scrutineer["headers"])
    assert listed.status_code == 200
    assert case_id in {c["case_id"] for c in listed.json()["items"]}
    before = await count_rows(world.app, "case")
    refused = await world.http.post(
        "/incidents", json=incident_body(), headers=world.scrutineer["headers"]
    )
    assert refused.status_code == 403
    assert "incident.notified" in refused.json()["detail"]
    assert await count_rows(world.app, "case") == before


async def test_another_partnerships_person_gets_404(world: World) -> None:
    made = await world.http.post(
        "/incidents", json=incident_body(), headers=world.officer["headers"]
    )
    case_id = made.json()["case_id"]
    response = await world.http.get(f"/cases/{case_id}", headers=world.bradford["headers"])
    assert response.status_code == 404
    listed = await world.http.get("/cases", headers=world.bradford["headers"])
    assert case_id not in {c["case_id"] for c in listed.json()["items"]}
    # and may not notify for a council outside their partnership
    elsewhere = await world.http.post(
        "/incidents", json=incident_body(), headers=world.bradford["headers"]
    )
    assert elsewhere.status_code == 422, elsewhere.text
    assert [e["field"] for e in elsewhere.json()["errors"]] == ["council_ons_code"]
    own = await world.http.post(
        "/incidents",
        json=incident_body(council_ons_code=BRADFORD),
        headers=world.bradford["headers"],
    )
    assert own.status_code == 201, own.text


async def test_a_revoked_persons_token_gets_401(world: World) -> None:
    for call in (
        world.http.get("/cases", headers=world.revoked["headers"]),
        world.http.post("/incidents", json=incident_body(), headers=world.revoked["headers"]),
    ):
        assert (await call).status_code == 401
