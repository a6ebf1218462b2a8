"""Helpers for the reporting tests: the app on a real broker, and events produced onto it.

Events are built with ``shared.events.make_event`` from the contract models and produced the way
the services' outbox relays do (acks="all", keyed by partnership id).

Each test app gets its own consumer group, whose offsets are committed at the current end of
the three topics before the app starts (:func:`group_at_end`). So the app reads exactly what was
produced after that, however soon the test produces after start-up (no wait for the partition
assignment), and does not replay the whole session's history (other services' tests write to
the same topics) nor re-dead-letter their malformed records.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from services.reporting.app import create_app
from services.reporting.readmodel import london_today
from services.reporting.settings import ReportingSettings
from shared.calendar import default_calendar
from shared.contracts.notifications import (
    NotificationAttemptFailed,
    NotificationDelivered,
    NotificationQueued,
)
from shared.contracts.partners import (
    CouncilRef,
    PartnershipCreated,
    SafeguardingPartnerRef,
)
from shared.contracts.reviews import ChildSummary, DeadlineRef, IncidentNotified
from shared.events import CloudEvent, EventPayload, make_event
from shared.processes import EmbeddedBroker
from shared.settings import TOPICS
from tests.support.apps import eventually, running_app

PARTNERS, REVIEWS, NOTIFICATIONS = TOPICS["partners"], TOPICS["reviews"], TOPICS["notifications"]
SOURCE = {PARTNERS: "partners", REVIEWS: "reviews", NOTIFICATIONS: "notifications"}
CALENDAR = default_calendar()


def new_id() -> str:
    return str(uuid.uuid4())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def settings_for(database_url: str, broker: EmbeddedBroker) -> ReportingSettings:
    return ReportingSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        environment="test",
        consumer_group=f"reporting-test-{new_id()}",
        kafka_session_timeout_ms=1000,
        kafka_heartbeat_interval_ms=250,
        outbox_poll_seconds=0.2,
    )


async def group_at_end(bootstrap_servers: str, group: str) -> None:
    """Commit ``group``'s offsets at the end of the consumed topics that exist (a topic created
    later is read from its beginning, which is then also its end)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(topic, p)
            for topic in (PARTNERS, REVIEWS, NOTIFICATIONS)
            for p in consumer.partitions_for_topic(topic) or ()
        ]
        if tps:
            ends = await consumer.end_offsets(tps)
            consumer.assign(tps)
            await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in ends.items()})
    finally:
        await consumer.stop()


@asynccontextmanager
async def reporting(
    database_url: str, broker: EmbeddedBroker, settings: ReportingSettings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The reporting app in-process, once it is ready (topics exist, consumer started)."""
    settings = settings or settings_for(database_url, broker)
    await group_at_end(broker.bootstrap_servers, settings.consumer_group)
    app = create_app(settings)
    async with running_app(app) as client:

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=30)
        yield client


class Feed:
    """Produces events onto the real topics, as the other services' relays would."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap_servers, acks="all", linger_ms=1
        )

    async def __aenter__(self) -> Feed:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(
        self,
        topic: str,
        payload: EventPayload,
        *,
        partnership_id: str,
        event_id: str | None = None,
    ) -> CloudEvent:
        event = make_event(
            payload, source=SOURCE[topic], partnership_id=partnership_id, event_id=event_id
        )
        await self.send_event(topic, event)
        return event

    async def send_event(self, topic: str, event: CloudEvent) -> None:
        await self.send_raw(topic, event.partnershipid, event.to_bytes())

    async def send_raw(self, topic: str, key: str, value: bytes) -> None:
        await self.producer.send_and_wait(topic, value=value, key=key.encode())


# ---- payloads --------------------------------------------------------------------------


def partnership_created(
    partnership_id: str, name: str = "Leeds Safeguarding Children Partnership"
) -> PartnershipCreated:
    return PartnershipCreated(
        partnership_id=partnership_id,
        name=name,
        status="drafting_arrangements",
        councils=[CouncilRef(name="Leeds City Council", ons_code="E08000035", la_number="383")],
        partners=[
            SafeguardingPartnerRef(
                id=new_id(),
                kind="local_authority",
                organisation="Leeds City Council",
                lead_role="Chief Executive",
            ),
            SafeguardingPartnerRef(
                id=new_id(),
                kind="health_board",
                organisation="NHS West Yorkshire ICB",
                lead_role="Chief Executive",
            ),
            SafeguardingPartnerRef(
                id=new_id(),
                kind="police",
                organisation="West Yorkshire Police",
                lead_role="Chief Constable",
            ),
        ],
    )


def incident(
    partnership_id: str, case_id: str, *, aware_on: date | None = None
) -> IncidentNotified:
    """A serious incident with SIN-5WD (from aware_on) and RR-15WD (from notification)."""
    aware = aware_on or london_today() - timedelta(days=1)
    notified = aware + timedelta(days=1)
    return IncidentNotified(
        case_id=case_id,
        partnership_id=partnership_id,
        council_ons_code="E08000035",
        kind="death_or_serious_harm",
        nature="serious_harm",
        aware_on=aware,
        notified_at=datetime.combine(notified, datetime.min.time(), UTC) + timedelta(hours=10),
        children=[ChildSummary(reference="child-ref-1", age_years=4)],
        needs_rapid_review=True,
        deadlines=[
            DeadlineRef(
                rule_id="SIN-5WD",
                title="Notify the Panel",
                starts_on=aware,
                due_on=CALENDAR.add_working_days(aware, 5),
                edition="WT2023",
                recipients=["panel", "local_partners"],
            ),
            DeadlineRef(
                rule_id="RR-15WD",
                title="Rapid review to the Panel",
                starts_on=notified,
                due_on=CALENDAR.add_working_days(notified, 15),
                edition="WT2023",
                recipients=["panel"],
            ),
        ],
        notify=["panel", "ofsted", "dfe"],
    )


def queued(
    partnership_id: str,
    case_id: str,
    notification_id: str,
    recipient: str = "panel",
    *,
    due_on: date | None = None,
) -> NotificationQueued:
    return NotificationQueued(
        notification_id=notification_id,
        case_id=case_id,
        partnership_id=partnership_id,
        recipient=recipient,
        channel="webhook",
        rule_id="SIN-5WD",
        due_on=due_on,
    )


def attempt_failed(
    partnership_id: str, case_id: str, notification_id: str, attempt: int, recipient: str = "panel"
) -> NotificationAttemptFailed:
    return NotificationAttemptFailed(
        notification_id=notification_id,
        case_id=case_id,
        partnership_id=partnership_id,
        recipient=recipient,
        attempt=attempt,
        error=f"HTTP 503 on attempt {attempt}",
        next_attempt_at=datetime.now(UTC) + timedelta(minutes=attempt),
    )


def delivered(
    partnership_id: str,
    case_id: str,
    notification_id: str,
    attempts: int,
    recipient: str = "panel",
    *,
    at: datetime | None = None,
    on_time: bool | None = None,
) -> NotificationDelivered:
    return NotificationDelivered(
        notification_id=notification_id,
        case_id=case_id,
        partnership_id=partnership_id,
        recipient=recipient,
        delivered_at=at or datetime.now(UTC),
        attempts=attempts,
        on_time=on_time,
    )


# ---- reading back ----------------------------------------------------------------------


async def summary_when(
    client: httpx.AsyncClient,
    partnership_id: str,
    check: Any,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Poll the summary until ``check(body)`` holds; returns the body."""
    from tests.support.apps import ADMIN

    async def probe() -> dict[str, Any] | None:
        r = await client.get(f"/partnerships/{partnership_id}/summary", headers=headers or ADMIN)
        if r.status_code != 200:
            return None
        body: dict[str, Any] = r.json()
        return body if check(body) else None

    result: dict[str, Any] = await eventually(probe, timeout=30)
    return result


def notification(case: dict[str, Any], notification_id: str) -> dict[str, Any] | None:
    return next((n for n in case["notifications"] if n["notification_id"] == notification_id), None)
