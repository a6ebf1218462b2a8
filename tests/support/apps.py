"""Run a service app in-process with its lifespan (migrations, bus, relay, consumer)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from shared.events import CloudEvent, MalformedEvent

ADMIN = {"Authorization": "Bearer masa-dev-admin-token"}


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan entered, and an HTTP client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    until: Callable[[list[CloudEvent]], bool] = lambda events: bool(events),
    timeout: float = 20.0,
) -> list[CloudEvent]:
    """Every event on a topic from the beginning, polling until ``until(events)`` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] = set()
        while not parts and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        events: list[CloudEvent] = []
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for record in records:
                    # Topics are shared by the session, and dead-letter tests put malformed
                    # records on them on purpose: those are not events, so they are skipped.
                    with contextlib.suppress(MalformedEvent):
                        events.append(CloudEvent.from_bytes(record.value))
            if until(events):
                return events
        raise AssertionError(
            f"timed out reading {topic}: {len(events)} events: {[e.type for e in events]}"
        )
    finally:
        await consumer.stop()


async def eventually(
    check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1
) -> Any:
    """Poll an async or sync ``check`` until it returns a truthy value (or time runs out)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
