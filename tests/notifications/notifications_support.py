"""Helpers for the notifications tests: build and produce incidents, run the app, read it back.

Every test makes its own partnership, case and recipient codes (uuid4): the broker and its
topics are shared by the whole session, and a fresh consumer group reads ``reviews.events``
from the beginning, so other tests' incidents arrive too and must be filtered out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from shared.contracts.reviews import ChildSummary, DeadlineRef, IncidentNotified
from shared.events import CloudEvent, make_event
from shared.processes import EmbeddedBroker
from tests.support.apps import ADMIN, eventually, running_app
from tests.support.receiver_process import ReceiverHandle

REVIEWS_TOPIC = "reviews.events"
NOTIFICATIONS_TOPIC = "notifications.events"


def short_id() -> str:
    return uuid.uuid4().hex[:10]


def code(name: str) -> str:
    """A recipient code unique to this test (the receiver's controls are per recipient)."""
    return f"{name}-{short_id()}"


def incident(
    notify: Iterable[str],
    *,
    partnership_id: str | None = None,
    case_id: str | None = None,
    due_on: date | None = None,
) -> IncidentNotified:
    recipients = list(notify)
    aware = date(2026, 3, 2)
    return IncidentNotified(
        case_id=case_id or f"case-{uuid.uuid4()}",
        partnership_id=partnership_id or f"p-{uuid.uuid4()}",
        council_ons_code="E08000035",
        kind="serious_incident",
        nature="serious_harm",
        incident_date=date(2026, 2, 27),
        aware_on=aware,
        notified_at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
        location="Leeds",
        children=[ChildSummary(reference="child-ref-1", age_years=4, sex="female")],
        needs_rapid_review=True,
        deadlines=[
            DeadlineRef(
                rule_id="SIN-5WD",
                title="Notify the Panel",
                starts_on=aware,
                due_on=due_on or aware + timedelta(days=7),
                edition="WT2023",
                recipients=recipients,
            ),
            DeadlineRef(
                rule_id="RR-15WD",
                title="Rapid review",
                starts_on=aware,
                due_on=aware + timedelta(days=21),
                edition="WT2023",
                recipients=recipients[:1],
            ),
        ],
        notify=recipients,
    )


def as_event(payload: IncidentNotified, traceparent: str | None = None) -> CloudEvent:
    return make_event(
        payload,
        source="reviews",
        partnership_id=payload.partnership_id,
        subject=payload.case_id,
        traceparent=traceparent,
    )


async def produce(bootstrap_servers: str, *events: CloudEvent, topic: str = REVIEWS_TOPIC) -> None:
    """Publish as a service would: acks=all, key = partnership id."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            headers = [("ce_type", event.type.encode()), ("ce_id", event.id.encode())]
            if event.traceparent:
                headers.append(("traceparent", event.traceparent.encode()))
            await producer.send_and_wait(
                topic, event.to_bytes(), key=event.partnershipid.encode(), headers=headers
            )
    finally:
        await producer.stop()


def webhooks(receiver: ReceiverHandle, *codes: str) -> dict[str, dict[str, str]]:
    """Settings for recipients reached through the test receiver."""
    return {
        c: {
            "name": f"Recipient {c}",
            "webhook_url": receiver.hook_url(c),
            "secret": receiver.secret_for(c),
        }
        for c in codes
    }


def make_settings(
    database_url: str,
    broker: EmbeddedBroker,
    recipients: dict[str, dict[str, str]],
    **knobs: Any,
) -> NotificationsSettings:
    values: dict[str, Any] = {
        "retry_base_seconds": 0.05,
        "retry_max_delay_seconds": 0.2,
        "retry_window_seconds": 30.0,
        "retry_max_attempts": 6,
        "attempt_timeout_seconds": 2.0,
        "delivery_poll_seconds": 0.2,
        "outbox_poll_seconds": 0.2,
        **knobs,
    }
    return NotificationsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        environment="test",
        consumer_group=f"test-{uuid.uuid4()}",
        recipients=recipients,
        **values,
    )


@asynccontextmanager
async def notifications_app(settings: NotificationsSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The service in-process, ready (database and broker) before the test produces."""
    async with running_app(create_app(settings)) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=30)
        yield client


async def case_notifications(
    client: httpx.AsyncClient,
    case_id: str,
    count: int,
    *,
    status: str | None = None,
    within: float = 30.0,
) -> list[dict[str, Any]]:
    """Wait until the case has ``count`` notifications (all in ``status``, if given)."""

    async def check() -> list[dict[str, Any]] | None:
        response = await client.get("/notifications", params={"case_id": case_id}, headers=ADMIN)
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) != count:
            return None
        if status is not None and any(i["status"] != status for i in items):
            return None
        return items

    result: list[dict[str, Any]] = await eventually(check, timeout=within)
    return result


async def detail(client: httpx.AsyncClient, notification_id: str) -> dict[str, Any]:
    response = await client.get(f"/notifications/{notification_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def read_records(
    bootstrap_servers: str,
    topic: str,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    within: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Raw records of a topic from the beginning (a dead-letter topic may hold anything)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        records: list[ConsumerRecord[bytes, bytes]] = []
        assigned = False
        while time.monotonic() < deadline:
            if not assigned:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    await asyncio.sleep(0.2)
                    continue
                tps = [TopicPartition(topic, p) for p in parts]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                assigned = True
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
            if until(records):
                return records
        raise AssertionError(f"timed out reading {topic}: {len(records)} records")
    finally:
        await consumer.stop()
