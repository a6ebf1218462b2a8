"""People of a partnership (issue 4): the operator registers a named person with roles; their
token is shown once; the roles decide what they may post; revoking ends their access; the
events other services learn them from say it is a person, with the roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from services.partners.app import create_app
from services.partners.settings import PartnersSettings
from shared.auth import hash_token
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry, ClientCredential, ClientSystem, OutboxEvent
from tests.partners.test_partnerships_api import count_rows, partnership_body
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)

OFFICER = {
    "name": "Asha Patel",
    "organisation": "Leeds City Council",
    "roles": ["council_safeguarding_officer"],
}


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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_partnership(client: httpx.AsyncClient) -> str:
    response = await client.post("/partnerships", json=partnership_body(), headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_operator_registers_a_person_whose_token_is_shown_once(partners: Any) -> None:
    client, runtime = partners
    pid, other = await new_partnership(client), await new_partnership(client)
    body = {**OFFICER, "roles": ["business_manager", "independent_scrutineer"]}
    response = await client.post(f"/partnerships/{pid}/people", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["partnership_id"] == pid
    assert person["roles"] == ["business_manager", "independent_scrutineer"]
    assert {"incident.notified", "case.transitioned", "local_review.decided"} <= set(
        person["allowed_event_types"]
    )
    token = person["credential"]["token"]
    async with runtime.db.read() as session:
        stored = await session.get(ClientCredential, person["credential"]["credential_id"])
        audit = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.entity_id == person["person_id"])
            )
        ).all()
    assert stored is not None and stored.token_hash == hash_token(token) != token
    assert "register" in {a.action for a in audit}

    # the list shows the person without any token; client systems do not include them
    listed = (await client.get(f"/partnerships/{pid}/people", headers=ADMIN)).json()
    assert listed["total"] == 1
    assert listed["items"][0]["person_id"] == person["person_id"]
    assert listed["items"][0]["active"] is True
    assert listed["items"][0]["credential"] is None
    assert token not in str(listed)
    systems = (await client.get(f"/partnerships/{pid}/client-systems", headers=ADMIN)).json()
    assert person["person_id"] not in {s["client_id"] for s in systems["items"]}

    # the person sees their own partnership only, and its people list
    mine = await client.get("/partnerships", headers=bearer(token))
    assert [p["id"] for p in mine.json()["items"]] == [pid]
    assert (await client.get(f"/partnerships/{other}", headers=bearer(token))).status_code == 404
    assert (
        await client.get(f"/partnerships/{pid}/people", headers=bearer(token))
    ).status_code == 200


async def test_only_the_operator_registers_or_revokes_people(partners: Any) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    person = (await client.post(f"/partnerships/{pid}/people", json=OFFICER, headers=ADMIN)).json()
    as_person = bearer(person["credential"]["token"])
    before = await count_rows(runtime, ClientSystem)
    refused = await client.post(f"/partnerships/{pid}/people", json=OFFICER, headers=as_person)
    assert refused.status_code == 403
    assert (await client.post(f"/partnerships/{pid}/people", json=OFFICER)).status_code == 401
    assert await count_rows(runtime, ClientSystem) == before
    revoke = await client.delete(
        f"/partnerships/{pid}/people/{person['person_id']}", headers=as_person
    )
    assert revoke.status_code == 403
    unknown = f"/partnerships/{pid}/people/person-nobody"
    assert (await client.delete(unknown, headers=ADMIN)).status_code == 404


async def test_a_revoked_person_is_refused(partners: Any) -> None:
    client, _ = partners
    pid = await new_partnership(client)
    person = (await client.post(f"/partnerships/{pid}/people", json=OFFICER, headers=ADMIN)).json()
    as_person = bearer(person["credential"]["token"])
    assert (await client.get(f"/partnerships/{pid}", headers=as_person)).status_code == 200
    url = f"/partnerships/{pid}/people/{person['person_id']}"
    assert (await client.delete(url, headers=ADMIN)).status_code == 204
    assert (await client.get(f"/partnerships/{pid}", headers=as_person)).status_code == 401
    listed = (await client.get(f"/partnerships/{pid}/people", headers=ADMIN)).json()
    assert listed["items"][0]["active"] is False
    assert (await client.delete(url, headers=ADMIN)).status_code == 204  # idempotent


@pytest.mark.parametrize(
    ("roles", "field"),
    [(["council_safeguarding_officer", "chief_constable"], "roles.1"), ([], "roles")],
)
async def test_a_bad_role_is_refused_naming_the_field(
    partners: Any, roles: list[str], field: str
) -> None:
    client, runtime = partners
    pid = await new_partnership(client)
    before = await count_rows(runtime, ClientSystem), await count_rows(runtime, OutboxEvent)
    response = await client.post(
        f"/partnerships/{pid}/people", json={**OFFICER, "roles": roles}, headers=ADMIN
    )
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    after = await count_rows(runtime, ClientSystem), await count_rows(runtime, OutboxEvent)
    assert after == before


async def test_a_system_may_not_claim_a_role(partners: Any) -> None:
    client, _ = partners
    pid = await new_partnership(client)
    response = await client.post(
        f"/partnerships/{pid}/client-systems",
        json={"name": "Case system", "organisation": "Leeds", "allowed_event_types": ["role:x"]},
        headers=ADMIN,
    )
    assert response.status_code == 422
    assert "allowed_event_types" in [e["field"] for e in response.json()["errors"]]


async def test_the_events_say_it_is_a_person_with_roles(partners: Any, broker: Any) -> None:
    client, _ = partners
    pid = await new_partnership(client)
    person = (await client.post(f"/partnerships/{pid}/people", json=OFFICER, headers=ADMIN)).json()
    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(
            e.type == "masa.client_credential.issued.v1" and e.subject == person["person_id"]
            for e in evs
        ),
    )
    registered = next(
        e
        for e in events
        if e.subject == person["person_id"] and e.type == "masa.client_system.registered.v1"
    )
    assert registered.data["person"] is True
    assert registered.data["roles"] == ["council_safeguarding_officer"]
    assert registered.data["allowed_event_types"] == ["incident.notified"]
    assert registered.data["partnership_id"] == pid
