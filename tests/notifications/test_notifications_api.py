"""The notifications read API: scoping to the caller's partnership, filters, paging, problems;
client credentials arrive through partners events; unusable incidents are dead-lettered.

No webhooks here: every recipient is on the manual channel, so nothing is delivered.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shared.auth import generate_token
from shared.contracts.partners import (
    ClientCredentialIssued,
    ClientCredentialRevoked,
    ClientSystemRegistered,
)
from shared.events import CloudEvent, EventPayload, make_event
from shared.processes import EmbeddedBroker
from tests.notifications.notifications_support import (
    REVIEWS_TOPIC,
    as_event,
    case_notifications,
    code,
    incident,
    make_settings,
    notifications_app,
    produce,
    read_records,
)
from tests.support.apps import ADMIN, eventually

pytestmark = pytest.mark.timeout(90)

PARTNERS_TOPIC = "partners.events"


def partners_event(payload: EventPayload, partnership_id: str) -> CloudEvent:
    return make_event(payload, source="partners", partnership_id=partnership_id)


def credential_events(partnership_id: str) -> tuple[str, str, list[CloudEvent]]:
    """A client system of the partnership with two credentials; the second is revoked."""
    client_id = str(uuid.uuid4())
    token, token_hash = generate_token()
    revoked, revoked_hash = generate_token()
    revoked_id = str(uuid.uuid4())
    events = [
        ClientSystemRegistered(
            client_id=client_id,
            partnership_id=partnership_id,
            name="Case system",
            organisation="Council",
            allowed_event_types=["incident.notified"],
        ),
        ClientCredentialIssued(
            credential_id=str(uuid.uuid4()),
            client_id=client_id,
            partnership_id=partnership_id,
            token_hash=token_hash,
        ),
        ClientCredentialIssued(
            credential_id=revoked_id,
            client_id=client_id,
            partnership_id=partnership_id,
            token_hash=revoked_hash,
        ),
        ClientCredentialRevoked(
            credential_id=revoked_id, client_id=client_id, partnership_id=partnership_id
        ),
    ]
    return token, revoked, [partners_event(e, partnership_id) for e in events]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_partnership_sees_only_its_own_notifications(
    database_url: str, broker: EmbeddedBroker
) -> None:
    panel, ofsted = code("panel"), code("ofsted")
    ours = incident([panel, ofsted])
    theirs = incident([panel])
    token, revoked, partner_events = credential_events(ours.partnership_id)
    settings = make_settings(database_url, broker, {})
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, *partner_events, topic=PARTNERS_TOPIC)
        await produce(broker.bootstrap_servers, as_event(ours), as_event(theirs))
        mine = await case_notifications(client, ours.case_id, 2, status="awaiting_manual")
        [other] = await case_notifications(client, theirs.case_id, 1)

        async def authenticated() -> httpx.Response | None:
            response = await client.get("/notifications", headers=bearer(token))
            return response if response.status_code == 200 else None

        page = (await eventually(authenticated)).json()
        assert page["total"] == 2
        assert {i["id"] for i in page["items"]} == {n["id"] for n in mine}
        own = await client.get(f"/notifications/{mine[0]['id']}", headers=bearer(token))
        assert own.status_code == 200 and own.json()["case_id"] == ours.case_id

        hidden = await client.get(f"/notifications/{other['id']}", headers=bearer(token))
        assert hidden.status_code == 404
        assert hidden.headers["content-type"].startswith("application/problem+json")
        unknown = await client.get(f"/notifications/{uuid.uuid4()}", headers=bearer(token))
        assert unknown.status_code == 404 and unknown.json() == {
            **hidden.json(),
            "instance": unknown.json()["instance"],
        }  # another partnership's and a missing one look the same
        filtered = await client.get(
            "/notifications", headers=bearer(token), params={"case_id": theirs.case_id}
        )
        assert filtered.json()["total"] == 0

        assert (await client.get("/notifications")).status_code == 401
        no_token = await client.get(f"/notifications/{mine[0]['id']}")
        assert no_token.status_code == 401
        assert no_token.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/notifications", headers=bearer("masa_nope"))).status_code == 401
        assert (await client.get("/notifications", headers=bearer(revoked))).status_code == 401

        admin = await client.get(f"/notifications/{other['id']}", headers=ADMIN)
        assert admin.status_code == 200


async def test_filters_paging_and_bad_queries(database_url: str, broker: EmbeddedBroker) -> None:
    dfe, ofsted, panel = code("dfe"), code("ofsted"), code("panel")
    case = incident([dfe, ofsted, panel])
    settings = make_settings(database_url, broker, {})
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, as_event(case))
        items = await case_notifications(client, case.case_id, 3)
        ids = {i["id"] for i in items}

        pages = []
        for offset in (0, 2):
            response = await client.get(
                "/notifications",
                headers=ADMIN,
                params={"case_id": case.case_id, "limit": 2, "offset": offset},
            )
            body = response.json()
            assert body["total"] == 3 and body["limit"] == 2 and body["offset"] == offset
            pages.append([i["id"] for i in body["items"]])
        assert [len(p) for p in pages] == [2, 1]
        assert set(pages[0] + pages[1]) == ids

        by_status = await client.get(
            "/notifications", headers=ADMIN, params={"case_id": case.case_id, "status": "delivered"}
        )
        assert by_status.json()["total"] == 0
        by_recipient = await client.get(
            "/notifications", headers=ADMIN, params={"case_id": case.case_id, "recipient": dfe}
        )
        assert [i["recipient"] for i in by_recipient.json()["items"]] == [dfe]

        bad = await client.get(
            "/notifications", headers=ADMIN, params={"status": "lost", "limit": 0}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in bad.json()["errors"]} == {"query.status", "query.limit"}


async def test_an_unusable_incident_is_dead_lettered_and_nothing_is_written(
    database_url: str, broker: EmbeddedBroker
) -> None:
    case = incident([code("panel"), "Not A Code!"])
    event = as_event(case)
    settings = make_settings(database_url, broker, {})
    async with notifications_app(settings) as client:
        await produce(broker.bootstrap_servers, event)

        def ours(records: list[Any]) -> list[Any]:
            return [r for r in records if event.id.encode() in (r.value or b"")]

        dead = ours(
            await read_records(
                broker.bootstrap_servers,
                REVIEWS_TOPIC + ".dlq",
                until=lambda records: bool(ours(records)),
                within=45,  # behind the whole session's backlog, and three handler tries
            )
        )
        reason = dict(dead[0].headers)["dlq_reason"].decode()
        assert "recipient codes" in reason
        response = await client.get(
            "/notifications", headers=ADMIN, params={"case_id": case.case_id}
        )
        assert response.json()["total"] == 0  # not even the valid recipient's
