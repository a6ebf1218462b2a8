"""A real crash: the service as its own process, killed (SIGKILL) in the middle of a delivery
attempt, then started again on the same database. The notification is still pending and is
delivered, with the same webhook-id (at-least-once; the receiver can dedupe)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shared.processes import EmbeddedBroker, free_port
from tests.notifications.notifications_support import as_event, code, incident, produce, webhooks
from tests.support.apps import ADMIN, eventually
from tests.support.receiver_process import PROJECT_ROOT, ReceiverHandle, run_receiver

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def receiver() -> Iterator[ReceiverHandle]:
    with run_receiver() as running:
        yield running


@contextmanager
def service_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m services.notifications``; killed (by its own pid) if still running."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.notifications"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async def ready() -> bool:
        if process.poll() is not None:
            output = await asyncio.to_thread(log.read_text, errors="replace")
            raise AssertionError(f"the service exited:\n{output[-3000:]}")
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:
                return (await client.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(ready, timeout=60, interval=0.2)


async def test_killed_mid_attempt_then_restarted_delivers_again(
    database_url: str, broker: EmbeddedBroker, receiver: ReceiverHandle, tmp_path: Path
) -> None:
    sqlite = database_url.startswith("sqlite")
    panel = code("panel")
    await receiver.acontrol(panel, delay_seconds=30)
    payload = incident([panel])
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "NOTIFICATIONS_PORT": str(port),
        "NOTIFICATIONS_DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "NOTIFICATIONS_CONSUMER_GROUP": f"test-{uuid.uuid4()}",
        "NOTIFICATIONS_RECIPIENTS": json.dumps(webhooks(receiver, panel)),
        "NOTIFICATIONS_ATTEMPT_TIMEOUT_SECONDS": "5",
        # SQLite hands a dead process's leases back at start-up (one process by design): a
        # long lease there proves it. PostgreSQL cannot know the holder is dead: it waits.
        "NOTIFICATIONS_CLAIM_MARGIN_SECONDS": "60" if sqlite else "1",
        "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.05",
        "NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS": "0.2",
        "NOTIFICATIONS_DELIVERY_POLL_SECONDS": "0.2",
        "MASA_DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "notifications.log"
    with service_process(env, log) as first:
        await wait_ready(base_url, first, log)
        await produce(broker.bootstrap_servers, as_event(payload))
        await eventually(lambda: receiver.adeliveries(panel), timeout=30)  # attempt under way
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    await receiver.acontrol(panel, delay_seconds=0)
    started = time.monotonic()
    with service_process(env, log) as second:
        await wait_ready(base_url, second, log)
        async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=5) as client:

            async def delivered() -> dict[str, object] | None:
                page = (
                    await client.get("/notifications", params={"case_id": payload.case_id})
                ).json()
                items = page["items"]
                return items[0] if items and items[0]["status"] == "delivered" else None

            n = await eventually(delivered, timeout=60)
        if sqlite:
            assert time.monotonic() - started < 20  # no waiting for the lease
    assert n["attempts"] == 1  # the interrupted attempt left no record
    received = await receiver.adeliveries(panel)
    assert [d["webhook_id"] for d in received] == [n["id"], n["id"]]
    assert received[-1]["duplicate"]
