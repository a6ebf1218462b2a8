"""National bodies read what is notified to them (issue 4): the Panel sees a serious incident
but not a looked-after child's death without abuse or neglect (notified to DfE and Ofsted
only); Ofsted sees both; a body told of nothing sees nothing; none of them may write."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlmodel import col, select

from services.reviews.app import create_app
from shared.auth import generate_token
from shared.contracts.partners import ClientCredentialIssued, ClientSystemRegistered
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry
from tests.reviews.lifecycle_support import lifecycle_client
from tests.reviews.reviews_support import (
    BRADFORD,
    LEEDS,
    SeededClient,
    SettableClock,
    at_noon,
    count_rows,
    deliver,
    incident_body,
    reviews_settings,
    runtime_of,
    seed_client,
    seed_partnership,
)
from tests.support.apps import running_app

pytestmark = pytest.mark.timeout(90)


async def seed_national_client(app: FastAPI, code: str) -> SeededClient:
    """A national body's system as the partners service announces it (events with
    ``national_body``), delivered through the service's own handlers."""
    client_id, credential_id = str(uuid.uuid4()), str(uuid.uuid4())
    token, token_hash = generate_token()
    stored_as = f"national:{code}"
    await deliver(
        app,
        ClientSystemRegistered(
            client_id=client_id,
            partnership_id=stored_as,
            name=f"{code} viewer",
            organisation=code,
            allowed_event_types=[],
            national_body=code,
        ),
        stored_as,
    )
    await deliver(
        app,
        ClientCredentialIssued(
            credential_id=credential_id,
            client_id=client_id,
            partnership_id=stored_as,
            token_hash=token_hash,
            national_body=code,
        ),
        stored_as,
    )
    return SeededClient(client_id, credential_id, token)


def lac_death_body() -> dict[str, object]:
    """A looked-after child's death, abuse or neglect not suspected: DfE and Ofsted only."""
    body = incident_body(
        kind="looked_after_child_death",
        nature="death",
        abuse_or_neglect_known_or_suspected=False,
    )
    body["children"][0]["looked_after"] = True  # type: ignore[index]
    return body


@dataclass
class World:
    app: FastAPI
    http: httpx.AsyncClient
    a_client: SeededClient
    b_client: SeededClient
    panel: SeededClient
    ofsted: SeededClient
    yjb: SeededClient
    serious: str  # Leeds: serious incident, notified to the Panel, Ofsted and DfE
    lac_death: str  # Leeds: looked-after child's death without abuse, DfE and Ofsted
    b_serious: str  # Bradford: serious incident


@pytest_asyncio.fixture(scope="module")
async def world(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reviews-national')}/reviews.db"
    app = create_app(
        reviews_settings(url, broker), clock=SettableClock(at_noon(date(2026, 12, 21)))
    )
    async with running_app(app) as http:
        a, b = await seed_partnership(app, LEEDS), await seed_partnership(app, BRADFORD)
        a_client = await lifecycle_client(app, a)
        b_client = await seed_client(app, b)
        serious = await http.post("/incidents", json=incident_body(), headers=a_client.headers)
        lac = await http.post("/incidents", json=lac_death_body(), headers=a_client.headers)
        b_serious = await http.post(
            "/incidents", json=incident_body(council_ons_code=BRADFORD), headers=b_client.headers
        )
        assert serious.status_code == lac.status_code == b_serious.status_code == 201, lac.text
        assert "panel" in serious.json()["notify"]
        assert set(lac.json()["notify"]) == {"dfe", "ofsted"}
        yield World(
            app,
            http,
            a_client,
            b_client,
            await seed_national_client(app, "panel"),
            await seed_national_client(app, "ofsted"),
            await seed_national_client(app, "yjb"),
            serious.json()["case_id"],
            lac.json()["case_id"],
            b_serious.json()["case_id"],
        )


async def listed(world: World, client: SeededClient) -> set[str]:
    response = await world.http.get("/cases", headers=client.headers)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == len(page["items"])
    return {c["case_id"] for c in page["items"]}


async def test_the_panel_sees_only_what_is_notified_to_it(world: World) -> None:
    serious = await world.http.get(f"/cases/{world.serious}", headers=world.panel.headers)
    lac = await world.http.get(f"/cases/{world.lac_death}", headers=world.panel.headers)
    assert serious.status_code == 200
    assert serious.json()["case_id"] == world.serious
    assert lac.status_code == 404
    assert lac.json()["detail"] == "Case not found."
    # serious incidents of every partnership reach the Panel; the death does not
    assert await listed(world, world.panel) == {world.serious, world.b_serious}


async def test_ofsted_sees_both_kinds_of_notification(world: World) -> None:
    for case_id in (world.serious, world.lac_death, world.b_serious):
        response = await world.http.get(f"/cases/{case_id}", headers=world.ofsted.headers)
        assert response.status_code == 200, response.text
    assert await listed(world, world.ofsted) == {world.serious, world.lac_death, world.b_serious}


async def test_a_body_told_of_nothing_sees_nothing(world: World) -> None:
    assert await listed(world, world.yjb) == set()
    response = await world.http.get(f"/cases/{world.serious}", headers=world.yjb.headers)
    assert response.status_code == 404


async def test_the_timeline_follows_the_same_rule(world: World) -> None:
    seen = await world.http.get(f"/cases/{world.serious}/timeline", headers=world.panel.headers)
    hidden = await world.http.get(f"/cases/{world.lac_death}/timeline", headers=world.panel.headers)
    assert seen.status_code == 200, seen.text
    assert hidden.status_code == 404


async def test_reads_are_audited_under_the_national_body(world: World) -> None:
    response = await world.http.get(f"/cases/{world.lac_death}", headers=world.ofsted.headers)
    assert response.status_code == 200
    async with runtime_of(world.app).db.read() as session:
        rows = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.entity_id == world.lac_death)
                .where(col(AuditEntry.actor) == f"national_body:{world.ofsted.client_id}")
            )
        ).all()
    assert rows and all(r.action == "read" for r in rows)


@pytest.mark.parametrize("who", ["panel", "ofsted"])
async def test_a_national_body_never_writes(world: World, who: str) -> None:
    client: SeededClient = getattr(world, who)
    before = await count_rows(world.app, "case"), await count_rows(world.app, "case_timeline")
    notify = await world.http.post(
        "/incidents",
        json=incident_body(partnership_id=None),
        headers=client.headers,
    )
    step = await world.http.post(
        f"/cases/{world.serious}/transitions",
        json={"transition": "start_rapid_review"},
        headers=client.headers,
    )
    rapid = await world.http.put(
        f"/cases/{world.serious}/rapid-review", json={}, headers=client.headers
    )
    assert notify.status_code == step.status_code == rapid.status_code == 403
    after = await count_rows(world.app, "case"), await count_rows(world.app, "case_timeline")
    assert after == before


async def test_another_partnerships_client_still_gets_404(world: World) -> None:
    for case_id in (world.serious, world.lac_death):
        response = await world.http.get(f"/cases/{case_id}", headers=world.b_client.headers)
        assert response.status_code == 404
    assert await listed(world, world.b_client) == {world.b_serious}
    # the case's own partnership still sees it
    own = await world.http.get(f"/cases/{world.lac_death}", headers=world.a_client.headers)
    assert own.status_code == 200
