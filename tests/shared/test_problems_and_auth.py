"""Problem responses (RFC 9457), bearer-token authentication and the operations endpoints,
through a throwaway service (tests/shared/widget_service.py) as a client sees them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from shared.auth import generate_token
from shared.db import Database
from shared.problems import PROBLEM_JSON
from shared.processes import EmbeddedBroker, free_port
from shared.tables import ClientCredential, ClientSystem
from tests.shared.widget_service import WidgetService, widget_settings, write_migrations
from tests.support.apps import ADMIN

pytestmark = pytest.mark.timeout(60)


@dataclass
class Tokens:
    valid: str
    revoked: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> WidgetService:
    tmp = tmp_path_factory.mktemp("problems")
    return WidgetService(
        widget_settings(f"sqlite:///{tmp}/widgets.db", broker.bootstrap_servers),
        write_migrations(tmp / "migrations"),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(service: WidgetService) -> AsyncIterator[httpx.AsyncClient]:
    async with service.running() as c:
        yield c


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tokens(service: WidgetService, client: httpx.AsyncClient) -> Tokens:
    """A client system of partnership p-a with one valid and one revoked credential, as the
    credential handlers would have copied them from ``partners.events``."""
    valid, valid_hash = generate_token()
    revoked, revoked_hash = generate_token()
    db = Database(service.settings.database_url)
    try:
        async with db.transaction() as session:
            session.add(
                ClientSystem(
                    client_id="cs-a",
                    partnership_id="p-a",
                    name="Case system",
                    organisation="Council A",
                    allowed_event_types=[],
                )
            )
            session.add(
                ClientCredential(
                    credential_id="cr-1",
                    client_id="cs-a",
                    partnership_id="p-a",
                    token_hash=valid_hash,
                )
            )
            session.add(
                ClientCredential(
                    credential_id="cr-2",
                    client_id="cs-a",
                    partnership_id="p-a",
                    token_hash=revoked_hash,
                    revoked_at=datetime.now(UTC),
                )
            )
    finally:
        await db.dispose()
    return Tokens(valid=valid, revoked=revoked)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and isinstance(body["title"], str)
    assert body["instance"] == response.request.url.path
    return body


# ---- problems ------------------------------------------------------------------------------


async def test_malformed_json_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/widgets",
        content=b'{"partnership_id": "p1", "name": ',
        headers={**ADMIN, "content-type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert str(body["type"]).endswith("/malformed-json")


async def test_missing_and_invalid_fields_are_named_by_json_pointer(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/widgets", json={"partnership_id": "p1", "due_at": "not a date"}, headers=ADMIN
    )
    body = assert_problem(response, 422)
    errors = {e["field"]: e for e in body["errors"]}  # type: ignore[attr-defined]
    assert set(errors) == {"name", "due_at"}
    assert errors["name"]["pointer"] == "#/name"
    assert errors["due_at"]["pointer"] == "#/due_at"
    assert "name" in str(body["detail"]) and "due_at" in str(body["detail"])

    naive = await client.post(  # a time without its offset is refused, not guessed
        "/widgets",
        json={"partnership_id": "p1", "name": "x", "due_at": "2026-06-01T12:00:00"},
        headers=ADMIN,
    )
    body = assert_problem(naive, 422)
    assert [e["pointer"] for e in body["errors"]] == ["#/due_at"]  # type: ignore[attr-defined]


async def test_an_unknown_route_and_a_wrong_method_are_problems(
    client: httpx.AsyncClient,
) -> None:
    assert_problem(await client.get("/no-such-thing", headers=ADMIN), 404)
    wrong = await client.delete("/widgets", headers=ADMIN)
    assert_problem(wrong, 405)
    assert "POST" in wrong.headers["allow"]


def requests_counted(metrics: str, method: str, route: str, status: int) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("masa_http_requests_total{") and (
            f'method="{method}"' in line
            and f'route="{route}"' in line
            and f'status="{status}"' in line
            and 'service="widgets"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_an_unexpected_error_is_a_500_problem_without_internals_and_is_counted(
    client: httpx.AsyncClient,
) -> None:
    before = requests_counted((await client.get("/metrics")).text, "POST", "/widgets", 500)
    response = await client.post(
        "/widgets",
        json={"id": "w-crash", "partnership_id": "p1", "name": "crash-after-emit"},
        headers=ADMIN,
    )
    body = assert_problem(response, 500)
    assert "Traceback" not in response.text
    assert "secret-internal-detail" not in response.text
    assert "RuntimeError" not in response.text
    assert body["title"] == "Internal error"
    assert (await client.get("/widgets/w-crash", headers=ADMIN)).status_code == 404
    after = requests_counted((await client.get("/metrics")).text, "POST", "/widgets", 500)
    assert after == before + 1


# ---- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer masa_not-a-real-token"},
    ],
    ids=["none", "empty", "basic", "unknown"],
)
async def test_without_a_valid_token_the_answer_is_401_bearer(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/widgets", json={"partnership_id": "p1", "name": "x"}, headers=headers
    )
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_revoked_credential_is_refused(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.get("/widgets/anything", headers=bearer(tokens.revoked))
    body = assert_problem(response, 401)
    assert "revoked" in str(body["detail"])
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_client_sees_its_own_partnership_only_and_the_admin_sees_all(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    own = await client.post(
        "/widgets",
        json={"id": "w-a", "partnership_id": "p-a", "name": "ours"},
        headers=bearer(tokens.valid),
    )
    assert own.status_code == 201, own.text
    theirs = await client.post(
        "/widgets", json={"id": "w-b", "partnership_id": "p-b", "name": "theirs"}, headers=ADMIN
    )
    assert theirs.status_code == 201, theirs.text

    assert (await client.get("/widgets/w-a", headers=bearer(tokens.valid))).status_code == 200
    # Another partnership's object answers 404, exactly like a missing one.
    hidden = await client.get("/widgets/w-b", headers=bearer(tokens.valid))
    missing = await client.get("/widgets/w-none", headers=bearer(tokens.valid))
    assert_problem(hidden, 404)
    assert hidden.json()["detail"] == missing.json()["detail"]
    refused = await client.post(
        "/widgets", json={"partnership_id": "p-b", "name": "sneaky"}, headers=bearer(tokens.valid)
    )
    assert_problem(refused, 404)
    for widget in ("w-a", "w-b"):
        assert (await client.get(f"/widgets/{widget}", headers=ADMIN)).status_code == 200


# ---- operations endpoints ------------------------------------------------------------------


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "broker": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert re.search(r"^masa_http_requests_total\{", metrics.text, re.MULTILINE)


async def test_without_a_broker_readyz_is_a_503_problem_and_writes_still_work(
    tmp_path: Path,
) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    service = WidgetService(
        widget_settings(f"sqlite:///{tmp_path}/w.db", closed),
        write_migrations(tmp_path / "migrations"),
    )
    async with service.running(wait_ready=False) as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
        body = assert_problem(response, 503)
        assert body["checks"] == {"database": "ok", "broker": "connecting"}
        created = await client.post(
            "/widgets", json={"partnership_id": "p1", "name": "x"}, headers=ADMIN
        )
        assert created.status_code == 201  # events wait in the outbox for the broker
