"""Helpers for the end-to-end tests: the whole platform as real processes (shared.stack.Stack)
next to the real webhook receiver (tests.support.receiver_process), request bodies, and polling
whose failure message says what was still wrong and what the services logged.

Each test runs its own Stack (own broker, own data dir, free ports), so the topics it reads are
its own; it still filters by the ids it created, as every test on a shared broker must.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from shared.settings import DEV_ADMIN_TOKEN
from shared.stack import Stack, free_service_ports
from tests.support.apps import ADMIN
from tests.support.receiver_process import ReceiverHandle

# The statutory recipients that have a webhook in these tests; DfE stays on the manual channel.
WEBHOOK_RECIPIENTS: tuple[str, ...] = ("panel", "ofsted")
RECIPIENT_NAMES = {"panel": "Child Safeguarding Practice Review Panel", "ofsted": "Ofsted"}
STATUTORY_PARTNERS = ("local_authority", "health_board", "police")

# Every service: quick consumer-group joins (the embedded broker holds a JoinGroup for half the
# session timeout), and the dev admin token whatever the developer's shell says.
PLATFORM_ENV: dict[str, str] = {
    "KAFKA_SESSION_TIMEOUT_MS": "1500",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    "MASA_ADMIN_TOKEN": DEV_ADMIN_TOKEN,
    "OTEL_EXPORTER": "none",
    "LOG_LEVEL": "INFO",
}


def notifications_env(receiver: ReceiverHandle) -> dict[str, str]:
    """Panel and Ofsted deliver to the receiver; retries and leases are short, so a retry or
    a delivery killed mid-attempt (its lease must run out first) takes seconds, not minutes."""
    recipients = {
        code: {
            "name": RECIPIENT_NAMES[code],
            "webhook_url": receiver.hook_url(code),
            "secret": receiver.secret_for(code),
        }
        for code in WEBHOOK_RECIPIENTS
    }
    return {
        "NOTIFICATIONS_RECIPIENTS": json.dumps(recipients),
        "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.2",
        "NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS": "0.5",
        "NOTIFICATIONS_RETRY_WINDOW_SECONDS": "600",
        "NOTIFICATIONS_ATTEMPT_TIMEOUT_SECONDS": "3",
        "NOTIFICATIONS_CLAIM_MARGIN_SECONDS": "1",
        "NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.2",
    }


def bytecode_cache_env(cache_dir: Path) -> dict[str, str]:
    """Let the services cache their bytecode in ``cache_dir`` (outside the tree and .venv).

    Where ``PYTHONDONTWRITEBYTECODE`` is set and .venv holds no .pyc files, each service
    compiles its dependencies from source on every start (~5 s of CPU each): four at a time on
    two cores, several starts per test. An empty value switches the variable off.
    """
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(cache_dir)}


@contextmanager
def platform(data_dir: Path, receiver: ReceiverHandle, pycache: Path) -> Iterator[Stack]:
    """The broker and the four services, ready (``/readyz``), stopped on exit.

    Call it from the main thread: children then die with the test process (PDEATHSIG).
    ``pycache``: a bytecode cache shared by the e2e tests (see :func:`bytecode_cache_env`).
    """
    stack = Stack(
        data_dir,
        ports=free_service_ports(),
        env={**PLATFORM_ENV, **bytecode_cache_env(pycache)},
        service_env={"notifications": notifications_env(receiver)},
        wait_ready=True,
        start_timeout=120.0,
    )
    with stack:
        yield stack


def log_tails(
    stack: Stack,
    names: Sequence[str] = ("reviews", "notifications", "reporting"),
    limit: int = 2500,
) -> str:
    """The end of each named process's log (``broker`` too), for a failure message."""
    parts = []
    for name in names:
        path = stack.log_path(name)
        try:
            text = path.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError as exc:
            text = f"(cannot read: {exc})"
        parts.append(f"\n----- tail of {path} -----\n{text.strip()}")
    return "".join(parts)


# --------------------------------------------------------------------------- request bodies


def council_code() -> str:
    """A valid ONS code (metropolitan district) no other test is likely to claim."""
    return f"E08{random.randrange(10**6):06d}"


def partnership_body(council: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "councils": [{"name": f"Council {council}", "ons_code": council}],
        "partners": [
            {
                "kind": "local_authority",
                "organisation": f"Council {council}",
                "lead_role": "Chief Executive",
            },
            {
                "kind": "health_board",
                "organisation": "Integrated Care Board",
                "lead_role": "Chief Executive",
            },
            {"kind": "police", "organisation": "Police force", "lead_role": "Chief Constable"},
        ],
    }


CASE_SYSTEM_BODY: dict[str, Any] = {
    "name": "Children's case system",
    "organisation": "Council",
    "allowed_event_types": ["incident.notified"],
}


def incident_body(council: str, aware_on: date, **changes: Any) -> dict[str, Any]:
    """A serious incident notification (serious harm, abuse suspected): Panel, Ofsted and DfE
    must be told within 5 working days of ``aware_on``; a rapid review follows."""
    body: dict[str, Any] = {
        "client_reference": f"E2E-{uuid.uuid4().hex[:16]}",
        "council_ons_code": council,
        "kind": "death_or_serious_harm",
        "nature": "serious_harm",
        "abuse_or_neglect_known_or_suspected": True,
        "incident_date": aware_on.isoformat(),
        "aware_on": aware_on.isoformat(),
        "location": "Family home",
        "children": [
            {
                "reference": "C-0042",
                "age_years": 3,
                "sex": "female",
                "looked_after": False,
                "known_to_agencies": True,
            }
        ],
    }
    body.update(changes)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- steps


async def register_partnership(
    http: httpx.AsyncClient, stack: Stack, council: str, name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The operator registers the partnership, then the council's case system; returns both
    responses (the second carries the system's token, shown this once)."""
    partners = stack.urls["partners"]
    created = await http.post(
        f"{partners}/partnerships", headers=ADMIN, json=partnership_body(council, name)
    )
    assert created.status_code == 201, created.text
    partnership = created.json()
    system = await http.post(
        f"{partners}/partnerships/{partnership['id']}/client-systems",
        headers=ADMIN,
        json=CASE_SYSTEM_BODY,
    )
    assert system.status_code == 201, system.text
    return partnership, system.json()


# Answers that mean "reviews has not read partners.events this far yet": the token (401) or the
# partnership (404) is not known there yet.
NOT_KNOWN_YET = frozenset({401, 404})


async def post_incident_once_known(
    http: httpx.AsyncClient,
    stack: Stack,
    token: str,
    body: dict[str, Any],
    within: float = 45.0,
) -> httpx.Response:
    """POST the incident until reviews knows the case system (eventual consistency through
    partners.events). Re-posting the same body is safe: the client reference is the
    idempotency key. Any other refusal fails at once."""
    url = stack.urls["reviews"] + "/incidents"
    deadline = time.monotonic() + within
    while True:
        response = await http.post(url, headers=bearer(token), json=body)
        if response.status_code not in NOT_KNOWN_YET:
            assert response.status_code == 201, (
                f"POST /incidents answered {response.status_code}: {response.text}"
                + log_tails(stack, ("reviews",))
            )
            return response
        if time.monotonic() > deadline:
            raise AssertionError(
                f"reviews did not learn the case system from partners.events within "
                f"{within}s (last answer {response.status_code}: {response.text})"
                + log_tails(stack, ("partners", "reviews"))
            )
        await asyncio.sleep(0.2)


async def wait_until(
    problems: Callable[[], Awaitable[list[str]]],
    *,
    within: float,
    what: str,
    stack: Stack,
    logs: Sequence[str] = ("reviews", "notifications", "reporting"),
    interval: float = 0.5,
) -> None:
    """Poll ``problems()`` until it returns no problem; on timeout fail with the last ones and
    the services' log tails. An HTTP error while polling is a problem, not a crash (a service
    may be starting)."""
    deadline = time.monotonic() + within
    last: list[str] = []
    while True:
        try:
            last = await problems()
        except httpx.HTTPError as exc:
            last = [f"{exc.__class__.__name__} while polling: {exc}"]
        if not last:
            return
        if time.monotonic() > deadline:
            shown = "\n  ".join(last[:40])
            more = f"\n  ... and {len(last) - 40} more" if len(last) > 40 else ""
            raise AssertionError(
                f"{what}: not reached within {within:.0f}s; still wrong:\n  {shown}{more}"
                + log_tails(stack, logs)
            )
        await asyncio.sleep(interval)


async def get_json(http: httpx.AsyncClient, url: str, **params: Any) -> Any:
    response = await http.get(url, headers=ADMIN, params=params)
    response.raise_for_status()
    return response.json()


async def all_cases(http: httpx.AsyncClient, stack: Stack, partnership_id: str) -> list[Any]:
    """Every case reviews holds for the partnership (as the operator), all pages."""
    items: list[Any] = []
    while True:
        page = await get_json(
            http,
            stack.urls["reviews"] + "/cases",
            partnership_id=partnership_id,
            limit=200,
            offset=len(items),
        )
        items.extend(page["items"])
        if not page["items"] or len(items) >= page["total"]:
            return items


def case_of(delivery: dict[str, Any]) -> str | None:
    """The case id a webhook delivery is about (None if its body is not the expected shape)."""
    body = delivery.get("body")
    try:
        return str(body["data"]["case"]["case_id"])  # type: ignore[index]
    except (KeyError, TypeError):
        return None
