"""Transactional outbox and its relay.

:meth:`Outbox.emit` adds the event to the caller's transaction; when that transaction commits,
:class:`shared.db.Database` wakes the relay, which publishes promptly (a slow poll is only the
fallback). Rows are marked published, never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from opentelemetry.trace import SpanKind
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus import KafkaBus
from shared.db import EMITTED_EVENT_IDS, WROTE_EVENTS, Database, stage_insert
from shared.events import CloudEvent, EventPayload, make_event
from shared.metrics import EVENTS_PUBLISHED, OUTBOX_PENDING
from shared.tables import OutboxEvent, table_of, utcnow
from shared.telemetry import current_traceparent, span_from

log = logging.getLogger("masa.outbox")
OUTBOX_TABLE = table_of(OutboxEvent)


class Outbox:
    """Writes a service's events into its outbox table."""

    def __init__(self, service: str, topic: str) -> None:
        self.service = service
        self.topic = topic

    def emit(
        self,
        session: AsyncSession,
        payload: EventPayload,
        *,
        partnership_id: str,
        subject: str | None = None,
        event_id: str | None = None,
    ) -> CloudEvent:
        event = make_event(
            payload,
            source=self.service,
            partnership_id=partnership_id,
            subject=subject,
            traceparent=current_traceparent(),
            event_id=event_id,
        )
        stage_insert(
            session,
            OUTBOX_TABLE,
            {
                "event_id": event.id,
                "topic": self.topic,
                "key": partnership_id,
                "type": event.type,
                "body": event.to_bytes().decode(),
                "traceparent": event.traceparent,
                "created_at": utcnow(),
            },
        )
        session.info[WROTE_EVENTS] = True
        session.info.setdefault(EMITTED_EVENT_IDS, []).append(event.id)
        return event


class OutboxRelay:
    """Publishes unpublished outbox rows in order, acks=all, then marks them published."""

    def __init__(
        self,
        db: Database,
        bus: KafkaBus,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 500,
        linger_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        db.on_events_committed(self.wake)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                # A short batch was everything pending when it was read: what commits later
                # wakes the relay, so no empty read after it.
                while await self.publish_pending() >= self.batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                await asyncio.sleep(1.0)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as the wake-up completes, and the relay then outlives shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            if self.linger_seconds and self._wake.is_set():
                await asyncio.sleep(self.linger_seconds)  # let close commits join the batch
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published."""
        async with self.db.read() as session:
            rows = (
                await session.exec(
                    select(OutboxEvent)
                    .where(col(OutboxEvent.published_at).is_(None))
                    .order_by(col(OutboxEvent.seq))
                    .limit(self.batch_size)
                )
            ).all()
        if not rows:
            OUTBOX_PENDING.set(0)
            return 0
        futures = []
        for row in rows:
            headers = [("ce_type", row.type.encode()), ("ce_id", row.event_id.encode())]
            if row.traceparent:
                headers.append(("traceparent", row.traceparent.encode()))
            with span_from(
                f"{row.topic} publish",
                row.traceparent,
                SpanKind.PRODUCER,
                {"messaging.system": "kafka", "messaging.destination.name": row.topic},
            ):
                futures.append(
                    await self.bus.send(
                        row.topic, key=row.key, value=row.body.encode(), headers=headers
                    )
                )
        await asyncio.gather(*futures)
        seqs = [row.seq for row in rows]
        async with self.db.transaction() as session:
            await session.exec(
                update(OutboxEvent)
                .where(col(OutboxEvent.seq).in_(seqs))
                .values(published_at=datetime.now(UTC))
            )
        EVENTS_PUBLISHED.inc(len(rows))
        return len(rows)

    async def reseed_if_log_lost(self, topic: str) -> int:
        """Republish the whole history when the broker holds fewer records than we sent.

        Offsets only grow on a real Kafka, so fewer records than published rows means the log
        was lost (the embedded broker keeps it in memory). Consumers dedupe by event id.
        """
        async with self.db.read() as session:
            published = (
                await session.exec(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.topic == topic)
                    .where(col(OutboxEvent.published_at).is_not(None))
                )
            ).one()
        if not published:
            return 0
        held = await self.bus.end_offsets(topic)
        if held >= published:
            return 0
        log.warning(
            "broker holds %s records of %s but %s were published: re-seeding from the outbox",
            held,
            topic,
            published,
        )
        async with self.db.transaction() as session:
            await session.exec(
                update(OutboxEvent).where(col(OutboxEvent.topic) == topic).values(published_at=None)
            )
        self.wake()
        return int(published)
