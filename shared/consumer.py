"""Consumer-group member with an inbox: each event's effect commits once, then its offset.

Per fetched batch (all its partitions): parse each record's CloudEvents envelope (malformed ->
dead-letter topic with the reason), open one database transaction, skip the events whose id is
in the inbox, run the handlers, record the ids, commit; only then are the Kafka offsets
committed. If a handler fails the batch is rolled back and applied record by record, each
retried and, if it keeps failing, dead-lettered. A rebalance listener commits what is done
before partitions are revoked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus import KafkaBus
from shared.db import Database, stage_insert
from shared.events import REGISTRY, CloudEvent, EventPayload, MalformedEvent
from shared.metrics import EVENTS_CONSUMED
from shared.settings import DEAD_LETTER_SUFFIX
from shared.tables import InboxEvent, table_of, utcnow
from shared.telemetry import span_from

log = logging.getLogger("masa.consumer")

INBOX_TABLE = table_of(InboxEvent)
Handler = Callable[[AsyncSession, CloudEvent, Any], Awaitable[None]]
# Called with a batch's new (event, payload) pairs before its handlers, in their transaction:
# a service loads the rows they will touch in a few queries instead of one per event.
BatchLoader = Callable[[AsyncSession, Sequence[tuple[CloudEvent, Any]]], Awaitable[None]]
HANDLER_ATTEMPTS = 3

# SQLite result codes that mean "the database cannot serve us now", not "this statement is
# wrong" (SQLITE_ERROR: no such table, syntax error ... which a retry never fixes).
_SQLITE_TRANSIENT = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_PROTOCOL",
    "SQLITE_NOMEM",
)


def database_unavailable(exc: BaseException) -> bool:
    """True for errors a later attempt can succeed on: retried without limit, never
    dead-lettered. psycopg's OperationalError is that class (connection lost, server shutting
    down, lock or serialization failure); SQLite's is not (it also reports broken SQL), so
    there the result code decides."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.orig, "sqlite_errorname", None)
    return code is None or str(code).startswith(_SQLITE_TRANSIENT)


@dataclass(frozen=True)
class _Work:
    """A parsed record and the handler that applies it."""

    record: ConsumerRecord[Any, Any]
    event: CloudEvent
    handler: Handler
    payload: Any
    traceparent: str | None


def _record_in_inbox(session: AsyncSession, event: CloudEvent) -> None:
    """Mark the event applied; the row is written with the transaction's commit."""
    stage_insert(
        session,
        INBOX_TABLE,
        {
            "event_id": event.id,
            "type": event.type,
            "source": event.source,
            "processed_at": utcnow(),
        },
    )


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: EventConsumer) -> None:
        self.member = member

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.member.lock:
            await self.member.commit_done()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned: %s", sorted(str(tp) for tp in assigned))


class EventConsumer:
    def __init__(
        self,
        bus: KafkaBus,
        db: Database,
        *,
        group_id: str,
        topics: Sequence[str],
        handlers: Mapping[str, Handler],
        batch_loader: BatchLoader | None = None,
        **consumer_options: Any,
    ) -> None:
        unknown = sorted(t for t in handlers if t not in REGISTRY)
        if unknown:
            # Its events could not be parsed, so they would be skipped: refuse to start.
            raise ValueError(f"handlers for event types with no registered payload: {unknown}")
        self.bus = bus
        self.db = db
        self.group_id = group_id
        self.topics = list(topics)
        self.handlers = dict(handlers)
        self.batch_loader = batch_loader
        self.consumer_options = consumer_options
        self.lock = asyncio.Lock()
        self._done: dict[TopicPartition, int] = {}
        self._consumer: Any = None

    async def commit_done(self) -> None:
        if self._done and self._consumer is not None:
            offsets = {tp: OffsetAndMetadata(off + 1, "") for tp, off in self._done.items()}
            self._done.clear()
            await self._consumer.commit(offsets)

    async def run(self) -> None:
        consumer = self.bus.consumer(self.group_id, [], **self.consumer_options)
        consumer.subscribe(self.topics, listener=_CommitBeforeRevoke(self))
        try:
            await consumer.start()
            self._consumer = consumer
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=200)
                if not batch:
                    continue
                async with self.lock:
                    # One transaction for the whole fetch (every partition): order within a
                    # partition is kept, and there is none across partitions to keep.
                    await self.handle_records([r for records in batch.values() for r in records])
                    for tp, records in batch.items():
                        self._done[tp] = records[-1].offset
                    await self.commit_done()
        finally:
            self._consumer = None
            await consumer.stop()

    async def handle_records(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a fetched batch in one transaction; if any handler fails,
        roll it all back and apply the records one at a time (retries, dead-letters).

        One transaction per batch, not per event, is what lets a read model keep up with
        several events per incident: a commit and an inbox query are paid once per batch.
        """
        work = [item for record in records if (item := await self._parse(record)) is not None]
        if len(work) > 1:
            try:
                outcomes = await self._apply_batch(work)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("batch of %d events failed (%r); applying one by one", len(work), exc)
            else:
                for item, outcome in zip(work, outcomes, strict=True):
                    EVENTS_CONSUMED.labels(self.group_id, item.event.type, outcome).inc()
                return
        for item in work:
            await self._apply_with_retries(item)

    async def handle_record(self, record: ConsumerRecord[Any, Any]) -> None:
        """One record on its own (a batch of one)."""
        await self.handle_records([record])

    async def _parse(self, record: ConsumerRecord[Any, Any]) -> _Work | None:
        """The record's event and handler; None when dead-lettered or not ours to handle."""
        try:
            event = CloudEvent.from_bytes(record.value)
            handler = self.handlers.get(event.type)
            payload: EventPayload | None = event.payload() if handler else None
        except MalformedEvent as exc:
            await self.dead_letter(record, str(exc))
            return None
        except KeyError:
            handler = None
        if handler is None:
            EVENTS_CONSUMED.labels(self.group_id, "unhandled", "ignored").inc()
            return None
        headers = dict(record.headers or [])
        traceparent = event.traceparent or (headers.get("traceparent") or b"").decode() or None
        return _Work(record, event, handler, payload, traceparent)

    def _span(self, item: _Work) -> Any:
        return span_from(
            f"{item.record.topic} process",
            item.traceparent,
            SpanKind.CONSUMER,
            {
                "messaging.system": "kafka",
                "messaging.destination.name": item.record.topic,
                "messaging.message.id": item.event.id,
                "messaging.consumer.group.name": self.group_id,
            },
        )

    async def _apply_batch(self, work: Sequence[_Work]) -> list[str]:
        outcomes = []
        async with self.db.transaction() as session:
            ids = [item.event.id for item in work]
            done = set(
                (
                    await session.exec(
                        select(InboxEvent.event_id).where(col(InboxEvent.event_id).in_(ids))
                    )
                ).all()
            )
            if self.batch_loader is not None:
                await self.batch_loader(
                    session, [(i.event, i.payload) for i in work if i.event.id not in done]
                )
            for item in work:
                if item.event.id in done:  # already applied, or twice in this batch
                    outcomes.append("duplicate")
                    continue
                with self._span(item):
                    await item.handler(session, item.event, item.payload)
                _record_in_inbox(session, item.event)
                done.add(item.event.id)
                outcomes.append("processed")
        return outcomes

    async def _apply_with_retries(self, item: _Work) -> None:
        event = item.event
        failures = outages = 0
        while True:
            try:
                with self._span(item):
                    outcome = await self._apply(item)
                EVENTS_CONSUMED.labels(self.group_id, event.type, outcome).inc()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if database_unavailable(exc):
                    outages += 1
                    log.exception("database unavailable handling %s; will retry", event.id)
                    await asyncio.sleep(min(30.0, 0.5 * outages))
                    continue
                failures += 1
                if failures >= HANDLER_ATTEMPTS:
                    log.exception("handler failed for %s; dead-lettering", event.id)
                    await self.dead_letter(
                        item.record, f"handler failed: {exc!r}", event_type=event.type
                    )
                    return
                log.warning("handler failed for %s (attempt %s): %r", event.id, failures, exc)
                await asyncio.sleep(0.2 * failures)

    async def _apply(self, item: _Work) -> str:
        async with self.db.transaction() as session:
            if await session.get(InboxEvent, item.event.id) is not None:
                return "duplicate"
            await item.handler(session, item.event, item.payload)
            _record_in_inbox(session, item.event)
        return "processed"

    async def dead_letter(
        self, record: ConsumerRecord[Any, Any], reason: str, *, event_type: str = "malformed"
    ) -> None:
        log.warning(
            "dead-lettering %s@%s:%s: %s", record.topic, record.partition, record.offset, reason
        )
        EVENTS_CONSUMED.labels(self.group_id, event_type, "dead_lettered").inc()
        headers = [
            ("dlq_reason", reason[:2000].encode()),
            ("dlq_source_topic", record.topic.encode()),
            ("dlq_source_partition", str(record.partition).encode()),
            ("dlq_source_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group_id.encode()),
        ]
        key = record.key.decode(errors="replace") if record.key else "unknown"
        future = await self.bus.send(
            record.topic + DEAD_LETTER_SUFFIX, key=key, value=record.value or b"", headers=headers
        )
        await future
