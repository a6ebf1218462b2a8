"""The partner registry over HTTP: registering partnerships and client systems, bad input,
isolation, and the events other services rely on."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from services.partners.app import create_app
from services.partners.models import Partnership
from services.partners.settings import PartnersSettings
from shared.processes import EmbeddedBroker
from shared.tables import OutboxEvent
from tests.support.apps import ADMIN, read_topic, running_app


def ons_code() -> str:
    return f"E06{random.randint(0, 999999):06d}"


def partnership_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Test Safeguarding Children Partnership {uuid.uuid4().hex[:6]}",
        "councils": [{"name": "Test Council", "ons_code": ons_code(), "la_number": "383"}],
        "partners": [
            {
                "kind": "local_authority",
                "organisation": "Test Council",
                "lead_role": "Chief Executive",
            },
            {
                "kind": "health_board",
                "organisation": "NHS Test ICB",
                "lead_role": "Chief Executive",
            },
            {"kind": "police", "organisation": "Test Police", "lead_role": "Chief Constable"},
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
async def partners(
    database_url: str, broker: EmbeddedBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(
        PartnersSettings(
            database_url=database_url,
            environment="test",
            kafka_bootstrap_servers=broker.bootstrap_servers,
        )
    )
    async with running_app(app) as client:
        yield client, app.state.runtime


async def count_rows(runtime: Any, model: Any) -> int:
    async with runtime.db.read() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_a_partnership_is_registered_and_announced(partners: Any, broker: Any) -> None:
    client, _ = partners
    body = partnership_body()
    response = await client.post("/partnerships", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {p["kind"] for p in created["partners"]} == {"local_authority", "health_board", "police"}
    assert created["councils"][0]["ons_code"] == body["councils"][0]["ons_code"]

    fetched = await client.get(f"/partnerships/{created['id']}", headers=ADMIN)
    assert fetched.json() == created

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(e.subject == created["id"] for e in evs),
    )
    event = next(e for e in events if e.subject == created["id"])
    assert event.type == "masa.partnership.created.v1"
    assert event.partnershipid == created["id"]
    assert event.data["councils"][0]["ons_code"] == body["councils"][0]["ons_code"]


async def test_a_council_belongs_to_one_partnership_at_a_time(partners: Any) -> None:
    client, runtime = partners
    first = partnership_body()
    assert (await client.post("/partnerships", json=first, headers=ADMIN)).status_code == 201
    before = await count_rows(runtime, Partnership)
    clash = partnership_body(councils=first["councils"])
    response = await client.post("/partnerships", json=clash, headers=ADMIN)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert first["councils"][0]["ons_code"] in response.json()["detail"]
    assert await count_rows(runtime, Partnership) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"partners": []}, "partners"),
        ({"councils": [{"name": "X Council", "ons_code": "W06000001"}]}, "councils.0.ons_code"),
        ({"name": 42}, "name"),
        ({"unexpected": "field"}, "unexpected"),
    ],
)
async def test_bad_partnerships_are_refused_naming_the_field(
    partners: Any, change: dict[str, Any], field: str
) -> None:
    client, runtime = partners
    before = (await count_rows(runtime, Partnership), await count_rows(runtime, OutboxEvent))
    response = await client.post("/partnerships", json=partnership_body(**change), headers=ADMIN)
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]
    after = (await count_rows(runtime, Partnership), await count_rows(runtime, OutboxEvent))
    assert after == before


async def test_a_partnership_without_a_police_partner_is_refused(partners: Any) -> None:
    client, _ = partners
    body = partnership_body()
    body["partners"] = [p for p in body["partners"] if p["kind"] != "police"] * 2
    response = await client.post("/partnerships", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert "police" in response.text


async def test_malformed_json_and_missing_token(partners: Any) -> None:
    client, runtime = partners
    before = await count_rows(runtime, Partnership)
    malformed = await client.post(
        "/partnerships", content=b"{not json", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"
    anonymous = await client.post("/partnerships", json=partnership_body())
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert await count_rows(runtime, Partnership) == before


async def test_client_systems_see_only_their_partnership(partners: Any) -> None:
    client, _ = partners
    a = (await client.post("/partnerships", json=partnership_body(), headers=ADMIN)).json()
    b = (await client.post("/partnerships", json=partnership_body(), headers=ADMIN)).json()
    registered = await client.post(
        f"/partnerships/{b['id']}/client-systems",
        headers=ADMIN,
        json={
            "name": "B case system",
            "organisation": "Test Council",
            "allowed_event_types": ["incident.notified"],
        },
    )
    assert registered.status_code == 201, registered.text
    token = registered.json()["credential"]["token"]
    as_b = {"Authorization": f"Bearer {token}"}

    assert (await client.get(f"/partnerships/{b['id']}", headers=as_b)).status_code == 200
    hidden = await client.get(f"/partnerships/{a['id']}", headers=as_b)
    assert hidden.status_code == 404
    listed = (await client.get("/partnerships", headers=as_b)).json()
    assert [p["id"] for p in listed["items"]] == [b["id"]]
    # a client system may not register partnerships
    assert (
        await client.post("/partnerships", json=partnership_body(), headers=as_b)
    ).status_code == 403


async def test_a_revoked_token_no_longer_authenticates(partners: Any, broker: Any) -> None:
    client, _ = partners
    p = (await client.post("/partnerships", json=partnership_body(), headers=ADMIN)).json()
    system = (
        await client.post(
            f"/partnerships/{p['id']}/client-systems",
            headers=ADMIN,
            json={
                "name": "Case system",
                "organisation": "Test Council",
                "allowed_event_types": ["incident.notified"],
            },
        )
    ).json()
    token = system["credential"]["token"]
    assert token.startswith("masa_")
    as_client = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"/partnerships/{p['id']}", headers=as_client)).status_code == 200

    revoked = await client.delete(
        f"/client-systems/{system['client_id']}/credentials/"
        f"{system['credential']['credential_id']}",
        headers=ADMIN,
    )
    assert revoked.status_code == 204
    assert (await client.get(f"/partnerships/{p['id']}", headers=as_client)).status_code == 401

    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(
            e.type == "masa.client_credential.revoked.v1" and e.subject == system["client_id"]
            for e in evs
        ),
    )
    issued = [
        e
        for e in events
        if e.type == "masa.client_credential.issued.v1" and e.subject == system["client_id"]
    ]
    assert issued and token not in issued[0].to_bytes().decode()
    assert len(issued[0].data["token_hash"]) == 64


async def test_unknown_partnership_for_a_client_system(partners: Any) -> None:
    client, _ = partners
    response = await client.post(
        f"/partnerships/{uuid.uuid4()}/client-systems",
        headers=ADMIN,
        json={
            "name": "Case system",
            "organisation": "Test Council",
            "allowed_event_types": ["incident.notified"],
        },
    )
    assert response.status_code == 404
