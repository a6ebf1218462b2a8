"""The inbox consumer, against the real broker and both databases.

A throwaway service (tests/shared/widget_service.py) consumes an upstream topic of its own that
the tests write raw records to, as another service (or a broken one) would: duplicates take
effect once; a failing handler is retried, and after ``HANDLER_ATTEMPTS`` dead-lettered with
the reason; offsets are committed only after the handler's transaction; malformed records go
to ``<topic>.dlq`` and consumption continues; unknown types are ignored; a database outage is
waited out, not dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.consumer import HANDLER_ATTEMPTS
from shared.pgcluster import ThrowawayPostgres
from shared.processes import EmbeddedBroker
from shared.settings import DEAD_LETTER_SUFFIX
from tests.shared.widget_service import (
    Records,
    WidgetService,
    event_of,
    produce,
    read_records,
    widget_event,
    widget_settings,
    write_migrations,
)
from tests.support.apps import eventually

pytestmark = pytest.mark.timeout(90)


def consumer_service(database_url: str, bootstrap: str, tmp_path: Path) -> WidgetService:
    """A widget service consuming an upstream topic of its own (created at its start-up)."""
    upstream = f"upstream-{uuid.uuid4().hex[:10]}.events"
    return WidgetService(
        widget_settings(database_url, bootstrap),
        write_migrations(tmp_path / "migrations"),
        consumes=[upstream],
    )


async def sightings(client: httpx.AsyncClient, widget_id: str) -> int:
    response = await client.get(f"/sightings/{widget_id}")
    assert response.status_code == 200
    return int(response.json()["count"])


async def seen(client: httpx.AsyncClient, widget_id: str) -> None:
    """Until the consumer has handled ``widget_id`` (so it is past everything before it)."""

    async def check() -> bool:
        return await sightings(client, widget_id) > 0

    await eventually(check, timeout=20)


def dlq_reasons(records: Records) -> dict[str, str]:
    """Dead-lettered record value -> its ``dlq_reason`` header."""
    return {
        r.value.decode(errors="replace"): dict(r.headers)["dlq_reason"].decode() for r in records
    }


async def test_the_same_event_twice_takes_effect_once(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    service = consumer_service(database_url, broker.bootstrap_servers, tmp_path)
    upstream = service.consumes[0]
    twice = widget_event("w-twice", "twice").to_bytes()
    async with service.running() as client:
        await produce(
            broker.bootstrap_servers,
            upstream,
            [twice, twice, widget_event("w-marker", "marker").to_bytes()],
        )
        await seen(client, "w-marker")
        assert await sightings(client, "w-twice") == 1
    assert sum(service.attempts.values()) == 2  # the duplicate never reached the handler


async def test_a_failing_handler_is_retried_then_dead_lettered_with_the_reason(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    service = consumer_service(database_url, broker.bootstrap_servers, tmp_path)
    upstream = service.consumes[0]
    flaky = widget_event("w-flaky", f"fail-{HANDLER_ATTEMPTS - 1}")
    poison = widget_event("w-poison", "fail-99")
    bad_sql = widget_event("w-bad-sql", "bad-sql")
    async with service.running() as client:
        await produce(
            broker.bootstrap_servers,
            upstream,
            [e.to_bytes() for e in (flaky, poison, bad_sql)]
            + [widget_event("w-next", "next").to_bytes()],
        )
        await seen(client, "w-next")
        assert await sightings(client, "w-flaky") == 1  # failed attempts left nothing behind
        assert await sightings(client, "w-poison") == 0
        assert await sightings(client, "w-bad-sql") == 0
    assert service.attempts[flaky.id] == HANDLER_ATTEMPTS
    assert service.attempts[poison.id] == HANDLER_ATTEMPTS
    assert service.attempts[bad_sql.id] == HANDLER_ATTEMPTS

    dead = await read_records(
        broker.bootstrap_servers, upstream + DEAD_LETTER_SUFFIX, until=lambda rs: len(rs) >= 2
    )
    assert sorted(event_of(r).id for r in dead) == sorted([poison.id, bad_sql.id])
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq_reason"].startswith(b"handler failed:")
        assert headers["dlq_source_topic"] == upstream.encode()
        assert headers["dlq_consumer_group"] == service.settings.consumer_group.encode()
        assert record.key == b"p-test"
    reasons = {event_of(r).id: dict(r.headers)["dlq_reason"].decode() for r in dead}
    assert "failed on purpose" in reasons[poison.id]
    assert "no_such_table" in reasons[bad_sql.id]


async def committed_offset(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    """The group's committed offset, read with the consumer's own group API."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def test_the_offset_is_committed_only_after_the_handlers_transaction(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    service = consumer_service(database_url, broker.bootstrap_servers, tmp_path)
    upstream = service.consumes[0]
    bootstrap = broker.bootstrap_servers
    async with service.running():
        _, held = await produce(
            bootstrap,
            upstream,
            [
                widget_event("w-first", "first").to_bytes(),
                widget_event("w-held", "hold").to_bytes(),
            ],
        )
        # The handler of "w-held" has written its row (flushed, not committed) and waits.
        # (On SQLite it holds the write lock meanwhile, so the test does not read now.)
        await asyncio.wait_for(service.holding.wait(), 20)
    # The service stopped (a deploy, a crash) in the middle of handling "w-held".
    tp = TopicPartition(upstream, held.partition)
    committed = await committed_offset(bootstrap, service.settings.consumer_group, tp)
    assert committed is None or committed <= held.offset

    restarted = WidgetService(service.settings, service.migrations, consumes=service.consumes)
    restarted.release.set()
    async with restarted.running() as client:
        await seen(client, "w-held")  # delivered again, handled now
        assert await sightings(client, "w-held") == 1
        assert await sightings(client, "w-first") == 1  # re-delivered or not, once

        async def committed_past_held() -> bool:
            offset = await committed_offset(bootstrap, service.settings.consumer_group, tp)
            return offset is not None and offset > held.offset

        await eventually(committed_past_held, timeout=10)


async def test_malformed_records_are_dead_lettered_and_unknown_types_ignored(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    service = consumer_service(database_url, broker.bootstrap_servers, tmp_path)
    upstream = service.consumes[0]
    no_partnership = widget_event("w-x", "x").model_dump(mode="json")
    del no_partnership["partnershipid"]
    invalid_payload = widget_event("w-invalid", "x")
    invalid_payload.data.pop("name")
    unknown = widget_event("w-unknown", "unknown")
    unknown.type = "masa.gadget.launched.v1"
    extra_fields = widget_event("w-extra", "extra")
    extra_fields.data["colour"] = "blue"  # newer producer: unknown fields are ignored
    malformed = {
        b"\xff\xfe not json": "not JSON",
        b"[1, 2, 3]": "envelope is not a JSON object",
        json_bytes(no_partnership): "invalid CloudEvents envelope",
        invalid_payload.to_bytes(): "invalid masa.widget.created.v1 payload",
    }
    async with service.running() as client:
        await produce(
            broker.bootstrap_servers,
            upstream,
            [
                *malformed,
                unknown.to_bytes(),
                extra_fields.to_bytes(),
                widget_event("w-last", "last").to_bytes(),
            ],
        )
        await seen(client, "w-last")
        assert await sightings(client, "w-extra") == 1
        assert await sightings(client, "w-unknown") == 0
        assert await sightings(client, "w-invalid") == 0

    dead = await read_records(
        broker.bootstrap_servers,
        upstream + DEAD_LETTER_SUFFIX,
        until=lambda rs: len(rs) >= len(malformed),
    )
    assert len(dead) == len(malformed)  # the unknown type was not dead-lettered
    reasons = {r.value: dict(r.headers)["dlq_reason"].decode() for r in dead}
    for value, reason in malformed.items():
        assert reasons[value].startswith(reason), (value, reasons[value])


def json_bytes(doc: dict[str, object]) -> bytes:
    return json.dumps(doc).encode()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def consumer_warnings() -> Iterator[_Collect]:
    handler = _Collect()
    logger = logging.getLogger("masa.consumer")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def set_connections(pg: ThrowawayPostgres, dbname: str, *, allowed: bool) -> None:
    """Open or close a database to everyone, superusers included; closing drops sessions."""
    with psycopg.connect(pg.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )


@pytest.mark.postgres
async def test_a_database_outage_is_waited_out_not_dead_lettered(
    broker: EmbeddedBroker,
    postgres: ThrowawayPostgres,
    tmp_path: Path,
    consumer_warnings: _Collect,
) -> None:
    dbname = f"outage_{uuid.uuid4().hex[:8]}"
    service = consumer_service(postgres.create_database(dbname), broker.bootstrap_servers, tmp_path)
    upstream = service.consumes[0]
    event = widget_event("w-outage", "outage")
    async with service.running() as client:
        await produce(
            broker.bootstrap_servers, upstream, [widget_event("w-before", "before").to_bytes()]
        )
        await seen(client, "w-before")
        set_connections(postgres, dbname, allowed=False)
        try:
            await produce(broker.bootstrap_servers, upstream, [event.to_bytes()])

            def retried_past_the_handler_limit() -> bool:
                return (
                    sum(event.id in m and "will retry" in m for m in consumer_warnings.messages)
                    > HANDLER_ATTEMPTS
                )

            await eventually(retried_past_the_handler_limit, timeout=15)
        finally:
            set_connections(postgres, dbname, allowed=True)
        await seen(client, "w-outage")
        assert await sightings(client, "w-outage") == 1
    assert not any("dead-lettering" in m for m in consumer_warnings.messages)


async def test_a_batch_loader_sees_the_batchs_new_events_in_the_handlers_transaction(
    database_url: str, tmp_path: Path
) -> None:
    """A service's batch loader runs once per fetched batch, before its handlers and in their
    transaction, with the events not yet applied (an already applied one is left out)."""
    from aiokafka.structs import ConsumerRecord
    from sqlmodel import select

    from shared.consumer import EventConsumer
    from shared.db import Database
    from shared.migrations import upgrade_to_head
    from tests.shared.widget_service import Sighting, WidgetCreated, widget_events_registered

    await asyncio.to_thread(upgrade_to_head, database_url, write_migrations(tmp_path / "m"))
    db = Database(database_url)
    loaded: list[list[str]] = []
    handled: list[tuple[str, bool]] = []

    async def loader(session: Any, events: Sequence[tuple[Any, Any]]) -> None:
        loaded.append([payload.widget_id for _, payload in events])
        session.info["loaded"] = True

    async def handler(session: Any, event: Any, payload: WidgetCreated) -> None:
        handled.append((payload.widget_id, bool(session.info.get("loaded"))))
        session.add(Sighting(event_id=event.id, widget_id=payload.widget_id))

    def record(offset: int, event: Any) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(
            "upstream", 0, offset, 0, 0, b"p-test", event.to_bytes(), None, 6, 0, []
        )

    first, second, third = (widget_event(f"w{n}", f"n{n}") for n in range(3))
    with widget_events_registered():
        consumer = EventConsumer(
            None,  # type: ignore[arg-type]  # no dead-lettering in this test
            db,
            group_id="g",
            topics=["upstream"],
            handlers={WidgetCreated.type_name(): handler},  # type: ignore[dict-item]
            batch_loader=loader,
        )
        try:
            await consumer.handle_records([record(0, first), record(1, second)])
            await consumer.handle_records([record(2, second), record(3, third)])
            async with db.read() as session:
                seen = sorted((await session.exec(select(Sighting.widget_id))).all())
        finally:
            await db.dispose()
    assert loaded == [["w0", "w1"], ["w2"]]
    assert handled == [("w0", True), ("w1", True), ("w2", True)]
    assert seen == ["w0", "w1", "w2"]
