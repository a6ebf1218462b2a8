"""The transactional outbox and its relay, against the real broker and both databases.

Through a throwaway service (tests/shared/widget_service.py): a request's row and its event
commit together or not at all; the relay publishes on commit (not on its slow poll); rows are
kept and marked published; a partnership's events keep their order, keyed by partnership id,
with ``ce_type`` and ``traceparent`` headers; a broker that lost its log is re-seeded.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from shared.db import Database
from shared.events import CloudEvent
from shared.processes import EmbeddedBroker, free_port
from shared.tables import AuditEntry, OutboxEvent
from tests.shared.widget_service import (
    TopicTail,
    WidgetCreated,
    WidgetService,
    event_of,
    read_records,
    widget_ids,
    widget_settings,
    write_migrations,
)
from tests.support.apps import ADMIN, eventually

pytestmark = pytest.mark.timeout(90)

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


async def outbox_rows(database_url: str) -> list[OutboxEvent]:
    db = Database(database_url)
    try:
        async with db.read() as session:
            return list(
                (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all()
            )
    finally:
        await db.dispose()


async def all_marked_published(database_url: str, count: int) -> None:
    """Until the relay has marked ``count`` rows published (it does so after the broker's
    acknowledgement, so just after the records can be read)."""

    async def marked() -> bool:
        rows = await outbox_rows(database_url)
        return len(rows) == count and all(r.published_at is not None for r in rows)

    await eventually(marked, timeout=5)


def widget_of_row(row: OutboxEvent) -> str:
    return str(CloudEvent.from_bytes(row.body.encode()).data["widget_id"])


async def test_a_failed_request_leaves_neither_row_nor_event(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    settings = widget_settings(database_url, broker.bootstrap_servers)
    service = WidgetService(settings, write_migrations(tmp_path / "migrations"))
    async with service.running() as client:
        refused = await client.post(
            "/widgets",
            json={"id": "w-refused", "partnership_id": "p1", "name": "refuse-after-emit"},
            headers=ADMIN,
        )
        assert refused.status_code == 409, refused.text
        crashed = await client.post(
            "/widgets",
            json={"id": "w-crashed", "partnership_id": "p1", "name": "crash-after-emit"},
            headers=ADMIN,
        )
        assert crashed.status_code == 500, crashed.text
        stored = await client.post(
            "/widgets",
            json={"id": "w-stored", "partnership_id": "p1", "name": "fine"},
            headers=ADMIN,
        )
        assert stored.status_code == 201, stored.text

        # Same key, so the same partition, in outbox order: had the failed requests' events
        # been written, they would be on the topic before the stored one.
        records = await read_records(
            broker.bootstrap_servers, settings.topic, until=lambda rs: "w-stored" in widget_ids(rs)
        )
        assert widget_ids(records) == ["w-stored"]
        for widget in ("w-refused", "w-crashed"):
            assert (await client.get(f"/widgets/{widget}", headers=ADMIN)).status_code == 404
        assert (await client.get("/widgets/w-stored", headers=ADMIN)).status_code == 200

    rows = await outbox_rows(database_url)
    assert [widget_of_row(r) for r in rows] == ["w-stored"]
    db = Database(database_url)
    try:
        async with db.read() as session:
            audited = (await session.exec(select(AuditEntry.entity_id))).all()
        assert list(audited) == ["w-stored"]
    finally:
        await db.dispose()


async def test_commit_wakes_the_relay_and_rows_are_kept_as_published(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    settings = widget_settings(database_url, broker.bootstrap_servers, outbox_poll_seconds=30)
    service = WidgetService(settings, write_migrations(tmp_path / "migrations"))
    async with service.running() as client:
        await asyncio.sleep(0.3)  # the relay's first pass is done; it now sleeps up to 30 s
        async with TopicTail(broker.bootstrap_servers, settings.topic) as tail:
            for n in range(3):
                started = time.monotonic()
                response = await client.post(
                    "/widgets",
                    json={"id": f"w-prompt-{n}", "partnership_id": "p1", "name": "prompt"},
                    headers=ADMIN,
                )
                assert response.status_code == 201, response.text
                widget = f"w-prompt-{n}"
                await tail.wait_for(lambda rs: widget in widget_ids(rs), within=5.0)  # noqa: B023
                elapsed = time.monotonic() - started
                assert elapsed < 1.0, f"event {n} took {elapsed:.2f}s to reach Kafka"

        await all_marked_published(database_url, 3)

    rows = await outbox_rows(database_url)
    assert [widget_of_row(r) for r in rows] == ["w-prompt-0", "w-prompt-1", "w-prompt-2"]
    for row in rows:
        assert row.published_at is not None and row.published_at.utcoffset() is not None
        assert row.published_at >= row.created_at


async def test_a_partnerships_events_keep_their_order_key_and_headers(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    """Concurrent requests whose commits overtake each other (and the relay publishes several
    rows per batch): on Kafka each partnership's events are in outbox (seq) order, the order
    a re-seed would publish them in."""
    settings = widget_settings(database_url, broker.bootstrap_servers)
    service = WidgetService(settings, write_migrations(tmp_path / "migrations"))
    count = 24
    async with service.running() as client:
        # The first to insert waits longest before committing: commits come in reverse.
        responses = await asyncio.gather(
            *(
                client.post(
                    "/widgets",
                    headers=ADMIN,
                    json={
                        "id": f"w-{n:02d}",
                        "name": f"slow-commit-{(count - n) * 5}",
                        "partnership_id": "p-north" if n % 3 else "p-south",
                    },
                )
                for n in range(count)
            )
        )
        assert [r.status_code for r in responses] == [201] * count
        records = await read_records(
            broker.bootstrap_servers, settings.topic, until=lambda rs: len(rs) >= count
        )
    assert len(records) == count
    rows = await outbox_rows(database_url)  # in seq order
    for partnership in ("p-north", "p-south"):
        mine = [r for r in records if r.key == partnership.encode()]
        assert [event_of(r).id for r in mine] == [r.event_id for r in rows if r.key == partnership]
        assert len({r.partition for r in mine}) == 1
        for record in mine:
            event = event_of(record)
            headers = dict(record.headers)
            assert event.partnershipid == partnership
            assert headers["ce_type"] == WidgetCreated.type_name().encode()
            assert headers["ce_id"] == event.id.encode()
            assert TRACEPARENT.match(headers["traceparent"].decode())
            assert headers["traceparent"].decode() == event.traceparent


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own: it is killed and restarted, which others must not see."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as b:
        yield b


async def test_a_broker_that_lost_its_log_is_reseeded_in_order_once(
    own_broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    settings = widget_settings(database_url, own_broker.bootstrap_servers)
    service = WidgetService(settings, write_migrations(tmp_path / "migrations"))
    bootstrap = own_broker.bootstrap_servers
    posted = [f"w-history-{n}" for n in range(6)]
    async with service.running() as client:
        for n, widget in enumerate(posted):
            response = await client.post(
                "/widgets",
                json={"id": widget, "partnership_id": f"p{n % 2}", "name": "kept"},
                headers=ADMIN,
            )
            assert response.status_code == 201
        before = await read_records(bootstrap, settings.topic, until=lambda rs: len(rs) >= 6)
    original = {event_of(r).id: r.key for r in before}

    own_broker.kill()
    own_broker.start()  # same port, empty: no topics, no records

    async with service.running():
        after = await read_records(bootstrap, settings.topic, until=lambda rs: len(rs) >= 6)
    assert sorted(widget_ids(after)) == sorted(posted)
    assert {event_of(r).id: r.key for r in after} == original  # same events, same keys
    for partnership in (b"p0", b"p1"):
        assert widget_ids([r for r in after if r.key == partnership]) == [
            w for n, w in enumerate(posted) if f"p{n % 2}".encode() == partnership
        ]

    # Started again with the broker intact: nothing is re-published. A new event follows the
    # history directly (the relay publishes in seq order, so a re-seed would come first).
    async with service.running() as client:
        response = await client.post(
            "/widgets", json={"id": "w-after", "partnership_id": "p0", "name": "new"}, headers=ADMIN
        )
        assert response.status_code == 201
        final = await read_records(
            bootstrap, settings.topic, until=lambda rs: "w-after" in widget_ids(rs)
        )
        await all_marked_published(database_url, 7)
    assert sorted(widget_ids(final)) == sorted([*posted, "w-after"])


async def test_writes_while_the_broker_is_down_are_published_when_it_comes_up(
    database_url: str, tmp_path: Path
) -> None:
    late_broker = EmbeddedBroker(free_port(), log_path=tmp_path / "broker.log")  # not yet
    settings = widget_settings(database_url, late_broker.bootstrap_servers)
    service = WidgetService(settings, write_migrations(tmp_path / "migrations"))
    try:
        async with service.running(wait_ready=False) as client:
            for n in range(3):
                response = await client.post(
                    "/widgets",
                    json={"id": f"w-waiting-{n}", "partnership_id": "p1", "name": "waiting"},
                    headers=ADMIN,
                )
                assert response.status_code == 201  # the service keeps accepting writes
            assert (await client.get("/readyz")).status_code == 503
            late_broker.start()
            records = await read_records(
                late_broker.bootstrap_servers,
                settings.topic,
                until=lambda rs: len(rs) >= 3,
                within=20,
            )
            assert widget_ids(records) == [f"w-waiting-{n}" for n in range(3)]
            assert (await client.get("/readyz")).status_code == 200
    finally:
        late_broker.stop()
