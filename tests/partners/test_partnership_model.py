"""The partnership over time, over HTTP: partial updates, status history, councils moving
between partnerships with their history kept, lead representatives' delegations flagged when
too junior (domain.md section 1), client systems listed without their tokens, isolation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from services.partners.app import create_app
from services.partners.settings import PartnersSettings
from shared.processes import EmbeddedBroker
from shared.tables import AuditEntry
from tests.partners.test_partnerships_api import ons_code, partnership_body
from tests.support.apps import ADMIN, read_topic, running_app

pytestmark = pytest.mark.timeout(90)
TOPIC = "partners.events"


@pytest.fixture
async def partners(
    database_url: str, broker: EmbeddedBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(
        PartnersSettings(
            database_url=database_url,
            environment="test",
            kafka_bootstrap_servers=broker.bootstrap_servers,
            delegation_max_levels={"police": 2, "health_board": 1, "local_authority": 1},
        )
    )
    async with running_app(app) as client:
        yield client, app.state.runtime


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/partnerships", json=partnership_body(**overrides), headers=ADMIN)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def client_token(client: httpx.AsyncClient, partnership_id: str) -> dict[str, str]:
    response = await client.post(
        f"/partnerships/{partnership_id}/client-systems",
        json={
            "name": "Case system",
            "organisation": "Test Council",
            "allowed_event_types": ["incident.notified"],
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['credential']['token']}"}


def police_of(partnership: dict[str, Any]) -> str:
    return next(p["id"] for p in partnership["partners"] if p["kind"] == "police")


def delegation(rank: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "delegate_name": "Jo Bloggs",
        "delegate_role": rank.replace("_", " ").title(),
        "rank": rank,
        "scope": "Attends the executive; commits the force on safeguarding policy and resources",
        "accountable_to": "Chief Constable",
        "delegated_on": "2026-04-01",
    }
    body.update(overrides)
    return body


async def test_a_partial_update_changes_only_what_was_sent_and_is_audited(
    partners: Any, broker: EmbeddedBroker
) -> None:
    client, runtime = partners
    p = await create(client)
    response = await client.patch(
        f"/partnerships/{p['id']}",
        json={"geography": "The city of Leeds: one council area"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["geography"] == "The city of Leeds: one council area"
    assert updated["name"] == p["name"] and updated["scope"] == "single_council"

    async with runtime.db.read() as session:
        entries = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.entity_id == p["id"])
                .where(AuditEntry.action == "update")
            )
        ).all()
    assert len(entries) == 1
    assert entries[0].detail["after"] == {"geography": "The city of Leeds: one council area"}
    assert entries[0].detail["before"] == {"geography": None}
    events = await read_topic(
        broker.bootstrap_servers,
        TOPIC,
        until=lambda evs: any(
            e.type == "masa.partnership.updated.v1" and e.subject == p["id"] for e in evs
        ),
    )
    [event] = [
        e for e in events if e.type == "masa.partnership.updated.v1" and e.subject == p["id"]
    ]
    assert event.data["changes"] == {"geography": "The city of Leeds: one council area"}


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "ab"}, "name"), ({"name": None}, "name"), ({"colour": "red"}, "colour")],
)
async def test_bad_updates_are_refused_naming_the_field(
    partners: Any, body: dict[str, Any], field: str
) -> None:
    client, _ = partners
    p = await create(client)
    response = await client.patch(f"/partnerships/{p['id']}", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert (await client.get(f"/partnerships/{p['id']}", headers=ADMIN)).json()["name"] == p["name"]


async def test_status_changes_are_kept_in_order(partners: Any) -> None:
    client, _ = partners
    p = await create(client)
    url = f"/partnerships/{p['id']}/status"
    published = await client.post(
        url, json={"status": "published", "effective_on": "2026-06-29"}, headers=ADMIN
    )
    assert published.status_code == 201, published.text
    earlier = await client.post(
        url, json={"status": "implemented", "effective_on": "2026-06-28"}, headers=ADMIN
    )
    assert earlier.status_code == 422 and "effective_on" in earlier.text
    same = await client.post(
        url, json={"status": "published", "effective_on": "2026-07-01"}, headers=ADMIN
    )
    assert same.status_code == 409
    unknown = await client.post(
        url, json={"status": "merged", "effective_on": "2026-07-01"}, headers=ADMIN
    )
    assert unknown.status_code == 422 and "status" in unknown.text
    same_day = await client.post(
        url, json={"status": "implemented", "effective_on": "2026-06-29"}, headers=ADMIN
    )
    assert same_day.status_code == 201  # the edge: the same day as the last change is allowed
    history = (await client.get(f"/partnerships/{p['id']}/status-history", headers=ADMIN)).json()
    assert [(h["status"], h["effective_on"]) for h in history] == [
        ("published", "2026-06-29"),
        ("implemented", "2026-06-29"),
    ]
    assert (await client.get(f"/partnerships/{p['id']}", headers=ADMIN)).json()[
        "status"
    ] == "implemented"
    listed = await client.get(
        "/partnerships", params={"status": "implemented", "name": p["name"][-6:]}, headers=ADMIN
    )
    assert [x["id"] for x in listed.json()["items"]] == [p["id"]]


async def test_a_council_moves_between_partnerships_keeping_its_history(
    partners: Any, broker: EmbeddedBroker
) -> None:
    client, _ = partners
    moving = ons_code()
    a = await create(
        client,
        effective_from="2019-06-29",
        councils=[
            {"name": "North Council", "ons_code": ons_code()},
            {"name": "Moving Council", "ons_code": moving},
        ],
    )
    assert a["scope"] == "multi_council"
    b = await create(client)
    join = {"name": "Moving Council", "ons_code": moving, "joined_on": "2026-04-01"}
    refused = await client.post(f"/partnerships/{b['id']}/councils", json=join, headers=ADMIN)
    assert refused.status_code == 409 and "move" in refused.json()["detail"]
    too_early = await client.post(
        f"/partnerships/{b['id']}/councils",
        json={**join, "joined_on": "2019-06-29", "move": True},
        headers=ADMIN,
    )
    assert too_early.status_code == 422 and "joined_on" in too_early.text

    moved = await client.post(
        f"/partnerships/{b['id']}/councils", json={**join, "move": True}, headers=ADMIN
    )
    assert moved.status_code == 201, moved.text

    now_in_a = (await client.get(f"/partnerships/{a['id']}/councils", headers=ADMIN)).json()
    assert moving not in [c["ons_code"] for c in now_in_a]
    history = (
        await client.get(
            f"/partnerships/{a['id']}/councils", params={"include_past": True}, headers=ADMIN
        )
    ).json()
    [past] = [c for c in history if c["ons_code"] == moving]
    assert past["left_on"] == "2026-04-01" and past["joined_on"] == "2019-06-29"
    by_council = await client.get("/partnerships", params={"council": moving}, headers=ADMIN)
    assert [x["id"] for x in by_council.json()["items"]] == [b["id"]]

    def moved_events(evs: list[Any]) -> list[Any]:
        return [e for e in evs if e.subject == moving]

    events = await read_topic(
        broker.bootstrap_servers, TOPIC, until=lambda evs: len(moved_events(evs)) >= 2
    )
    by_type = {e.type: e for e in moved_events(events)}
    assert by_type["masa.council.left.v1"].data["moved_to"] == b["id"]
    assert by_type["masa.council.left.v1"].data["partnership_id"] == a["id"]
    assert by_type["masa.council.joined.v1"].data["moved_from"] == a["id"]


async def test_the_last_council_cannot_leave(partners: Any) -> None:
    client, _ = partners
    p = await create(client)
    code = p["councils"][0]["ons_code"]
    response = await client.post(
        f"/partnerships/{p['id']}/councils/{code}/leave",
        json={"left_on": "2026-04-01"},
        headers=ADMIN,
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("rank", "levels", "flagged"),
    [
        ("chief_constable", 0, False),
        ("assistant_chief_constable", 2, False),  # the threshold itself: not flagged
        ("chief_superintendent", 3, True),  # one past it
        ("superintendent", 4, True),  # the 2021 review's finding
    ],
)
async def test_a_delegation_too_far_below_the_lead_is_flagged(
    partners: Any, rank: str, levels: int, flagged: bool
) -> None:
    client, _ = partners
    p = await create(client)
    response = await client.post(
        f"/partnerships/{p['id']}/partners/{police_of(p)}/delegations",
        json=delegation(rank),
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["levels_below_lead"], body["below_threshold"]) == (levels, flagged)
    listed = await client.get(
        f"/partnerships/{p['id']}/delegations", params={"below_threshold": True}, headers=ADMIN
    )
    assert listed.json()["total"] == (1 if flagged else 0)


async def test_one_named_delegate_at_a_time(partners: Any, broker: EmbeddedBroker) -> None:
    client, _ = partners
    p = await create(client)
    url = f"/partnerships/{p['id']}/partners/{police_of(p)}/delegations"
    first = (await client.post(url, json=delegation("superintendent"), headers=ADMIN)).json()
    second = await client.post(url, json=delegation("deputy_chief_constable"), headers=ADMIN)
    assert second.status_code == 409 and second.json()["delegation_id"] == first["id"]
    before_start = await client.post(
        f"/partnerships/{p['id']}/delegations/{first['id']}/end",
        json={"ended_on": "2026-03-31"},
        headers=ADMIN,
    )
    assert before_start.status_code == 422 and "ended_on" in before_start.text
    ended = await client.post(
        f"/partnerships/{p['id']}/delegations/{first['id']}/end",
        json={"ended_on": "2026-09-30", "reason": "Panel advised a more senior delegate"},
        headers=ADMIN,
    )
    assert ended.status_code == 200 and ended.json()["ended_on"] == "2026-09-30"
    replaced = await client.post(
        url, json=delegation("deputy_chief_constable", delegated_on="2026-10-01"), headers=ADMIN
    )
    assert replaced.status_code == 201
    current = (await client.get(f"/partnerships/{p['id']}/delegations", headers=ADMIN)).json()
    assert [d["rank"] for d in current["items"]] == ["deputy_chief_constable"]
    everything = await client.get(
        f"/partnerships/{p['id']}/delegations", params={"current_only": False}, headers=ADMIN
    )
    assert everything.json()["total"] == 2
    events = await read_topic(
        broker.bootstrap_servers,
        TOPIC,
        until=lambda evs: any(
            e.type == "masa.delegation.ended.v1" and e.subject == first["id"] for e in evs
        ),
    )
    recorded = [
        e for e in events if e.type == "masa.delegation.recorded.v1" and e.subject == first["id"]
    ]
    assert recorded[0].data["below_threshold"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (delegation("sergeant"), "rank"),
        ({k: v for k, v in delegation("superintendent").items() if k != "scope"}, "scope"),
        (delegation("superintendent", delegated_on="not a date"), "delegated_on"),
        (delegation("superintendent", accountable_to=""), "accountable_to"),
    ],
)
async def test_bad_delegations_are_refused_naming_the_field(
    partners: Any, body: dict[str, Any], field: str
) -> None:
    client, _ = partners
    p = await create(client)
    response = await client.post(
        f"/partnerships/{p['id']}/partners/{police_of(p)}/delegations", json=body, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert field in response.text
    listed = await client.get(
        f"/partnerships/{p['id']}/delegations", params={"current_only": False}, headers=ADMIN
    )
    assert listed.json()["total"] == 0


async def test_the_lead_is_named(partners: Any) -> None:
    client, _ = partners
    p = await create(client)
    response = await client.patch(
        f"/partnerships/{p['id']}/partners/{police_of(p)}",
        json={"lead_name": "Chief Constable A. Person"},
        headers=ADMIN,
    )
    assert response.status_code == 200
    assert response.json()["lead_name"] == "Chief Constable A. Person"
    assert response.json()["lead_role"] == "Chief Constable"
    other = await client.patch(
        f"/partnerships/{p['id']}/partners/{uuid.uuid4()}", json={"lead_name": "X Y"}, headers=ADMIN
    )
    assert other.status_code == 404


async def test_client_systems_are_listed_without_tokens(partners: Any) -> None:
    client, _ = partners
    p = await create(client)
    await client_token(client, p["id"])
    listed = await client.get(f"/partnerships/{p['id']}/client-systems", headers=ADMIN)
    assert listed.status_code == 200
    [system] = listed.json()["items"]
    [credential] = system["credentials"]
    assert set(credential) == {"credential_id", "created_at", "revoked_at"}
    assert "token" not in listed.text


async def test_another_partnership_sees_none_of_it(partners: Any) -> None:
    client, _ = partners
    a, b = await create(client), await create(client)
    as_b = await client_token(client, b["id"])
    for method, url, body in [
        ("GET", f"/partnerships/{a['id']}/status-history", None),
        ("GET", f"/partnerships/{a['id']}/councils", None),
        ("GET", f"/partnerships/{a['id']}/delegations", None),
        ("GET", f"/partnerships/{a['id']}/client-systems", None),
        ("PATCH", f"/partnerships/{a['id']}", {"geography": "Taken over"}),
        (
            "POST",
            f"/partnerships/{a['id']}/status",
            {"status": "published", "effective_on": "2026-06-29"},
        ),
        (
            "POST",
            f"/partnerships/{a['id']}/partners/{police_of(a)}/delegations",
            delegation("superintendent"),
        ),
    ]:
        response = await client.request(method, url, json=body, headers=as_b)
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get(f"/partnerships/{a['id']}", headers=ADMIN)).json()["geography"] is None
    mine = await client.get(f"/partnerships/{b['id']}/status-history", headers=as_b)
    assert mine.status_code == 200
