"""The database layer on SQLite and PostgreSQL: concurrent writers, UTC timestamps, migrations.

Writers queue rather than fail ("database is locked") on SQLite; ``UtcDateTime`` gives back
timezone-aware UTC on both backends and refuses naive values; migrations apply, are idempotent
on restart, and several processes starting at once do not race each other.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError
from sqlmodel import col, func, select

from shared.db import Database, sync_url
from shared.migrations import upgrade_to_head
from shared.processes import EmbeddedBroker
from tests.shared.widget_service import (
    Widget,
    WidgetService,
    widget_settings,
    write_migrations,
)
from tests.support.apps import ADMIN

pytestmark = pytest.mark.timeout(60)

SHARED_TABLES = {"outbox_event", "inbox_event", "client_system", "client_credential", "audit_entry"}


async def migrated(database_url: str, tmp_path: Path) -> Database:
    await asyncio.to_thread(upgrade_to_head, database_url, write_migrations(tmp_path / "m"))
    return Database(database_url)


async def test_twenty_concurrent_read_then_write_transactions_all_commit(
    database_url: str, tmp_path: Path
) -> None:
    """Each reads before it writes: the pattern that gets SQLITE_BUSY with deferred BEGIN."""
    db = await migrated(database_url, tmp_path)

    async def write(n: int) -> int:
        async with db.transaction() as session:
            before = (await session.exec(select(func.count()).select_from(Widget))).one()
            session.add(Widget(id=f"w-{n:02d}", partnership_id="p1", name=f"n{before}"))
            await asyncio.sleep(0.01)  # hold the transaction open while others queue
        return n

    try:
        done = await asyncio.gather(*(write(n) for n in range(20)))
        assert sorted(done) == list(range(20))
        async with db.read() as session:
            assert (await session.exec(select(func.count()).select_from(Widget))).one() == 20
    finally:
        await db.dispose()


async def test_twenty_concurrent_requests_all_succeed(
    broker: EmbeddedBroker, database_url: str, tmp_path: Path
) -> None:
    service = WidgetService(
        widget_settings(database_url, broker.bootstrap_servers),
        write_migrations(tmp_path / "migrations"),
    )
    async with service.running() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/widgets",
                    json={"id": f"w-{n:02d}", "partnership_id": "p1", "name": "concurrent"},
                    headers=ADMIN,
                )
                for n in range(20)
            )
        )
        assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
        for n in range(20):
            assert (await client.get(f"/widgets/w-{n:02d}", headers=ADMIN)).status_code == 200


async def test_timestamps_round_trip_as_aware_utc(database_url: str, tmp_path: Path) -> None:
    db = await migrated(database_url, tmp_path)
    # 01:30 on the day the clocks went forward in London; and an Indian offset.
    london = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=ZoneInfo("Europe/London"))
    kolkata = datetime(2026, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    try:
        async with db.transaction() as session:
            session.add(
                Widget(id="w-1", partnership_id="p1", name="a", created_at=london, due_at=kolkata)
            )
            session.add(
                Widget(
                    id="w-2",
                    partnership_id="p1",
                    name="b",
                    created_at=datetime(2026, 6, 1, 3, 0, tzinfo=UTC),
                )
            )
        async with db.read() as session:
            row = await session.get(Widget, "w-1")
            assert row is not None and row.due_at is not None
            assert row.created_at == london and row.created_at.utcoffset() == timedelta(0)
            assert row.created_at.isoformat() == "2026-03-29T01:30:15.123456+00:00"
            assert row.due_at == kolkata and row.due_at.tzinfo is not None
            assert row.due_at.isoformat() == "2026-06-01T03:30:00+00:00"
            # comparisons with aware values are done in UTC on both backends
            later = (
                await session.exec(
                    select(Widget.id)
                    .where(col(Widget.created_at) > kolkata)
                    .order_by(col(Widget.created_at))
                )
            ).all()
            assert list(later) == []
            earlier = (
                await session.exec(
                    select(Widget.id)
                    .where(col(Widget.created_at) < kolkata)
                    .order_by(col(Widget.created_at))
                )
            ).all()
            assert list(earlier) == ["w-1", "w-2"]
    finally:
        await db.dispose()


async def test_a_naive_timestamp_is_refused_and_nothing_is_written(
    database_url: str, tmp_path: Path
) -> None:
    db = await migrated(database_url, tmp_path)
    try:
        with pytest.raises(StatementError, match="naive datetime"):
            async with db.transaction() as session:
                session.add(Widget(id="w-ok", partnership_id="p1", name="fine"))
                session.add(
                    Widget(
                        id="w-naive",
                        partnership_id="p1",
                        name="naive",
                        due_at=datetime(2026, 6, 1, 12, 0),
                    )
                )
        async with db.read() as session:
            assert (await session.exec(select(func.count()).select_from(Widget))).one() == 0
    finally:
        await db.dispose()


def tables_and_version(database_url: str) -> tuple[set[str], list[str]]:
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            versions = [
                r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ]
        return tables, versions
    finally:
        engine.dispose()


async def test_migrations_apply_once_and_are_idempotent_on_restart(
    database_url: str, tmp_path: Path
) -> None:
    migrations = write_migrations(tmp_path / "migrations")
    for _ in range(3):  # start, restart, restart
        await asyncio.to_thread(upgrade_to_head, database_url, migrations)
        tables, versions = tables_and_version(database_url)
        assert tables >= SHARED_TABLES | {"widget", "widget_sighting", "alembic_version"}
        assert versions == ["0001"]


def _upgrade_when_told(go: Any, database_url: str, migrations: Path) -> None:
    go.wait(10)
    upgrade_to_head(database_url, migrations)


async def test_processes_starting_together_do_not_race_their_migrations(
    database_url: str, tmp_path: Path
) -> None:
    """Replicas of a service (or an overlapping restart) migrate one database at once."""
    migrations = write_migrations(tmp_path / "migrations")
    fork = multiprocessing.get_context("fork")  # the children start with our imports: fast
    go = fork.Event()
    procs = [
        fork.Process(target=_upgrade_when_told, args=(go, database_url, migrations))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        await asyncio.to_thread(p.join, 30)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    tables, versions = tables_and_version(database_url)
    assert tables >= SHARED_TABLES and versions == ["0001"]


async def test_staged_rows_are_written_with_the_commit_and_never_without_it(
    database_url: str, tmp_path: Path
) -> None:
    """Audit entries (like outbox events and inbox marks) are staged and written at commit in
    one executemany: a transaction that commits writes all of them with its change, one that
    fails writes none, and a staged row is not visible before its transaction commits."""
    from shared.audit import record_audit
    from shared.auth import Principal
    from shared.tables import AuditEntry

    db = await migrated(database_url, tmp_path)
    actor = Principal(kind="service", id="test")
    try:
        async with db.transaction() as session:
            session.add(Widget(id="w-kept", partnership_id="p1", name="kept"))
            for n in range(3):
                record_audit(session, actor, "create", "widget", f"w-kept-{n}", detail={"n": n})
            assert (await session.exec(select(func.count()).select_from(AuditEntry))).one() == 0

        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                session.add(Widget(id="w-lost", partnership_id="p1", name="lost"))
                record_audit(session, actor, "create", "widget", "w-lost")
                raise RuntimeError("the change fails after its audit entry was staged")

        async with db.read() as session:
            entries = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
            widgets = (await session.exec(select(Widget.id))).all()
        assert [e.entity_id for e in entries] == ["w-kept-0", "w-kept-1", "w-kept-2"]
        assert [e.detail for e in entries] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert all(e.actor == "service:test" and e.at.tzinfo is not None for e in entries)
        assert widgets == ["w-kept"]
    finally:
        await db.dispose()
