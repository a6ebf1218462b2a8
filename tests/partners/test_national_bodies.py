"""National bodies' client systems (issue 4): only the operator registers one, for a national
body of domain.md section 1; it belongs to no partnership, and the events other services
learn it from say which body it is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.partners.app import create_app
from services.partners.settings import PartnersSettings
from shared.processes import EmbeddedBroker
from shared.tables import ClientSystem, OutboxEvent
from tests.partners.test_partnerships_api import count_rows, partnership_body
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)

SYSTEM = {"name": "Panel case viewer", "organisation": "Child Safeguarding Practice Review Panel"}


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


async def test_the_operator_registers_a_national_body_system(partners: Any) -> None:
    client, _ = partners
    response = await client.post(
        "/national-bodies/panel/client-systems", json=SYSTEM, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    system = response.json()
    assert system["national_body"] == "panel"
    assert system["partnership_id"] == "national:panel"
    assert system["allowed_event_types"] == []
    as_panel = {"Authorization": f"Bearer {system['credential']['token']}"}

    # it belongs to no partnership and may change nothing
    p = (await client.post("/partnerships", json=partnership_body(), headers=ADMIN)).json()
    assert (await client.get(f"/partnerships/{p['id']}", headers=as_panel)).status_code == 404
    assert (await client.get("/partnerships", headers=as_panel)).json()["items"] == []
    refused = await client.post("/partnerships", json=partnership_body(), headers=as_panel)
    assert refused.status_code == 403

    # credentials are issued and revoked as for a partnership's system
    more = await client.post(f"/client-systems/{system['client_id']}/credentials", headers=ADMIN)
    assert more.status_code == 201
    revoked = await client.delete(
        f"/client-systems/{system['client_id']}/credentials/"
        f"{system['credential']['credential_id']}",
        headers=ADMIN,
    )
    assert revoked.status_code == 204
    assert (await client.get("/partnerships", headers=as_panel)).status_code == 401
    as_new = {"Authorization": f"Bearer {more.json()['token']}"}
    assert (await client.get("/partnerships", headers=as_new)).status_code == 200


@pytest.mark.parametrize("code", ["ncmd", "PANEL", "cafcass"])
async def test_an_unknown_national_body_is_refused(partners: Any, code: str) -> None:
    client, runtime = partners
    before = await count_rows(runtime, ClientSystem), await count_rows(runtime, OutboxEvent)
    response = await client.post(
        f"/national-bodies/{code}/client-systems", json=SYSTEM, headers=ADMIN
    )
    assert response.status_code == 422
    assert "path.code" in [e["field"] for e in response.json()["errors"]]
    after = await count_rows(runtime, ClientSystem), await count_rows(runtime, OutboxEvent)
    assert after == before


async def test_only_the_operator_registers_one(partners: Any) -> None:
    client, runtime = partners
    p = (await client.post("/partnerships", json=partnership_body(), headers=ADMIN)).json()
    local = await client.post(
        f"/partnerships/{p['id']}/client-systems",
        headers=ADMIN,
        json={**SYSTEM, "allowed_event_types": ["incident.notified"]},
    )
    as_local = {"Authorization": f"Bearer {local.json()['credential']['token']}"}
    national = await client.post(
        "/national-bodies/ofsted/client-systems", json=SYSTEM, headers=ADMIN
    )
    as_ofsted = {"Authorization": f"Bearer {national.json()['credential']['token']}"}
    before = await count_rows(runtime, ClientSystem)
    for headers in (as_local, as_ofsted):
        response = await client.post(
            "/national-bodies/panel/client-systems", json=SYSTEM, headers=headers
        )
        assert response.status_code == 403
    anonymous = await client.post("/national-bodies/panel/client-systems", json=SYSTEM)
    assert anonymous.status_code == 401
    assert await count_rows(runtime, ClientSystem) == before


async def test_the_events_carry_the_national_body(partners: Any, broker: Any) -> None:
    client, _ = partners
    system = (
        await client.post("/national-bodies/dfe/client-systems", json=SYSTEM, headers=ADMIN)
    ).json()
    events = await read_topic(
        broker.bootstrap_servers,
        "partners.events",
        until=lambda evs: any(
            e.type == "masa.client_credential.issued.v1" and e.subject == system["client_id"]
            for e in evs
        ),
    )
    mine = {e.type: e for e in events if e.subject == system["client_id"]}
    registered = mine["masa.client_system.registered.v1"]
    issued = mine["masa.client_credential.issued.v1"]
    assert registered.data["national_body"] == issued.data["national_body"] == "dfe"
    assert registered.data["partnership_id"] == issued.data["partnership_id"] == "national:dfe"
    assert registered.data["allowed_event_types"] == []
