"""Who sees what: client credentials arrive as events; another partnership's data answers 404."""

from __future__ import annotations

from shared.auth import generate_token
from shared.contracts.partners import (
    ClientCredentialIssued,
    ClientCredentialRevoked,
    ClientSystemRegistered,
)
from shared.processes import EmbeddedBroker
from tests.reporting.reporting_feed import (
    PARTNERS,
    REVIEWS,
    Feed,
    bearer,
    incident,
    new_id,
    partnership_created,
    reporting,
    summary_when,
)
from tests.support.apps import ADMIN, eventually


async def test_a_partnership_client_sees_only_its_own_partnership(
    database_url: str, broker: EmbeddedBroker
) -> None:
    a, b, a_case, b_case = new_id(), new_id(), new_id(), new_id()
    client_id, credential_id = new_id(), new_id()
    token, token_hash = generate_token()
    async with reporting(database_url, broker) as client, Feed(broker) as feed:
        await feed.send(PARTNERS, partnership_created(a, "Partnership A"), partnership_id=a)
        await feed.send(PARTNERS, partnership_created(b, "Partnership B"), partnership_id=b)
        await feed.send(REVIEWS, incident(a, a_case), partnership_id=a)
        await feed.send(REVIEWS, incident(b, b_case), partnership_id=b)
        await feed.send(
            PARTNERS,
            ClientSystemRegistered(
                client_id=client_id,
                partnership_id=b,
                name="B case system",
                organisation="B Council",
                allowed_event_types=["incident.notified"],
            ),
            partnership_id=b,
        )
        await feed.send(
            PARTNERS,
            ClientCredentialIssued(
                credential_id=credential_id,
                client_id=client_id,
                partnership_id=b,
                token_hash=token_hash,
            ),
            partnership_id=b,
        )
        await summary_when(client, a, lambda body: body["open_cases"] == 1)
        b_summary = await summary_when(
            client, b, lambda body: body["open_cases"] == 1, headers=bearer(token)
        )

        assert b_summary["name"] == "Partnership B"
        assert [c["case_id"] for c in b_summary["cases"]] == [b_case]
        listed = await client.get("/partnerships", headers=bearer(token))
        assert listed.status_code == 200
        assert [p["partnership_id"] for p in listed.json()["items"]] == [b]
        assert listed.json()["total"] == 1
        assert (await client.get(f"/cases/{b_case}", headers=bearer(token))).status_code == 200
        # The operator sees every partnership, a page at a time.
        page = (await client.get("/partnerships", headers=ADMIN, params={"limit": 1})).json()
        assert len(page["items"]) == 1 and page["total"] >= 2 and page["limit"] == 1

        for path in (f"/partnerships/{a}/summary", f"/cases/{a_case}"):
            r = await client.get(path, headers=bearer(token))
            assert r.status_code == 404, path
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["detail"] in ("Partnership not found.", "Case not found.")
            # The operator sees it.
            assert (await client.get(path, headers=ADMIN)).status_code == 200

        # A revoked credential stops working once the revocation event is applied.
        await feed.send(
            PARTNERS,
            ClientCredentialRevoked(
                credential_id=credential_id,
                client_id=client_id,
                partnership_id=b,
            ),
            partnership_id=b,
        )

        async def refused() -> bool:
            return (await client.get("/partnerships", headers=bearer(token))).status_code == 401

        await eventually(refused, timeout=30)


async def test_no_token_or_a_wrong_token_answers_401_and_bad_input_a_problem(
    sqlite_url: str, broker: EmbeddedBroker
) -> None:
    case_id = new_id()
    async with reporting(sqlite_url, broker) as client:
        for path in ("/partnerships", f"/partnerships/{new_id()}/summary", f"/cases/{case_id}"):
            for headers in ({}, bearer("masa_not-a-real-token"), {"Authorization": "Basic x"}):
                r = await client.get(path, headers=headers)
                assert r.status_code == 401, (path, headers)
                assert r.headers["content-type"] == "application/problem+json"
                assert r.headers["www-authenticate"] == "Bearer"
        # Unknown ids answer 404 even to the operator; bad paging is a 422 naming the field.
        assert (await client.get(f"/cases/{case_id}", headers=ADMIN)).status_code == 404
        r = await client.get(f"/partnerships/{new_id()}/summary", headers=ADMIN)
        assert r.status_code == 404
        r = await client.get("/partnerships", headers=ADMIN, params={"limit": 0, "offset": -1})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"query.limit", "query.offset"}
