"""Database engine and sessions for SQLite and PostgreSQL from one URL setting.

One transaction per request and per consumed event: :meth:`Database.transaction` opens it,
commits it, and after the commit wakes the outbox relay if the transaction wrote events.
Domain code never commits. On PostgreSQL a transaction that wrote events numbers its outbox
rows just before COMMIT, under a lock, so the outbox's seq order is the commit order.

On SQLite one writer runs at a time. Writers of the same process queue on an asyncio lock
before ``BEGIN IMMEDIATE``, instead of in SQLite's busy handler, which sleeps in steps of up
to 100 ms and so turned a few milliseconds of contention into seconds of latency under load
(measured with ``make bench``). :meth:`Database.read` sessions begin deferred and take no
lock: in WAL mode readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, event, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.sqlite_inline import inline_connector

WROTE_EVENTS = "masa_wrote_events"
# Execution option marking the connection of a Database.transaction session: on SQLite it
# begins IMMEDIATE (takes the write lock at once). Every other connection (reads, health
# checks) begins deferred, so none can hold the write lock outside the writer queue.
WRITER = "masa_writer"
EMITTED_EVENT_IDS = "masa_emitted_event_ids"
# Rows staged by stage_insert: {table: [row, ...]}, written at commit, one executemany each.
STAGED_INSERTS = "masa_staged_inserts"
# PostgreSQL advisory lock (per database) that orders the commits of event-writing transactions.
OUTBOX_ORDER_LOCK_KEY = 0x6D61736F  # "maso"
_RENUMBER = text(
    "UPDATE outbox_event SET seq = nextval(pg_get_serial_sequence('outbox_event', 'seq')) "
    "WHERE event_id = :event_id"
)


def new_metadata_base(name: str) -> type[SQLModel]:
    """A SQLModel base with its own MetaData, so each service's tables stay apart.

    Shared tables (outbox, inbox, audit) live on ``SQLModel.metadata``; a service's Alembic
    environment targets both.
    """
    return type(name, (SQLModel,), {}, registry=registry())


def async_url(url: str) -> str:
    """Map a plain URL onto the async driver we use (aiosqlite, psycopg 3)."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme: {u.drivername}")


def sync_url(url: str) -> str:
    """The synchronous twin of a URL, for Alembic."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return str(u.set(drivername="sqlite"))
    return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def configure_sqlite(sync_engine: Any) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for writers so they queue, not
    fail (a deferred transaction that turns into a writer can be refused at once)."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        if dbapi_conn.isolation_level is not None:  # inline connections are made with None
            dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(WRITER):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


# (database, task) of the transaction open in this context: a second one on the same database
# in the same task would wait for the writer lock it holds itself. Tasks started inside a
# transaction inherit the context but are other tasks, so they are not refused.
_in_transaction: ContextVar[tuple[Database, asyncio.Task[Any] | None] | None] = ContextVar(
    "masa_in_transaction", default=None
)


_writer_locks: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Lock] = {}


def _sqlite_writer_lock(database: str) -> asyncio.Lock:
    """The lock writers to one SQLite file (its resolved path) queue on, shared by every
    :class:`Database` of this event loop on that file (tests open several on one file;
    statements run on the loop's thread, so two writers of one loop must never meet in
    SQLite's busy handler)."""
    global _writer_locks
    loop = asyncio.get_running_loop()
    key = (loop, database)
    lock = _writer_locks.get(key)
    if lock is None:
        _writer_locks = {k: v for k, v in _writer_locks.items() if not k[0].is_closed()}
        lock = _writer_locks[key] = asyncio.Lock()
    return lock


class NestedTransactionError(RuntimeError):
    """A transaction was opened inside another on the same database (it would deadlock)."""


class Database:
    """Engine, session factory and the transaction boundary of one service."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self._sqlite = is_sqlite(url)
        self._sqlite_file = ""  # the resolved path: the key of its writer lock
        kwargs: dict[str, Any] = {"echo": echo}
        if self._sqlite:
            _ensure_sqlite_dir(url)
            database = make_url(url).database or ":memory:"
            in_memory = database == ":memory:"
            self._sqlite_file = database if in_memory else str(Path(database).resolve())
            kwargs["async_creator"] = inline_connector(database)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(async_url(url), **kwargs)
        if self._sqlite:
            configure_sqlite(self.engine.sync_engine)
        self.sessions = async_sessionmaker(
            self.engine.execution_options(**{WRITER: True}),
            class_=AsyncSession,
            expire_on_commit=False,
        )
        self.read_sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._commit_listeners: list[tuple[str, Callable[[], None]]] = []

    def _writer_lock(self) -> asyncio.Lock:
        return _sqlite_writer_lock(self._sqlite_file)

    def on_events_committed(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after any transaction that wrote outbox events commits."""
        self.on_commit(WROTE_EVENTS, listener)

    def on_commit(self, flag: str, listener: Callable[[], None]) -> None:
        """Call ``listener`` after a transaction that set ``session.info[flag]`` commits
        (the delivery worker wakes only for transactions that queued deliveries)."""
        self._commit_listeners.append((flag, listener))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commit on success, roll back on any exception."""
        task = asyncio.current_task()
        if _in_transaction.get() == (self, task):
            raise NestedTransactionError("a transaction is already open on this database")
        marker = _in_transaction.set((self, task))
        try:
            async with AsyncExitStack() as stack:
                if self._sqlite:
                    await stack.enter_async_context(self._writer_lock())
                session = await stack.enter_async_context(self.sessions())
                try:
                    yield session
                    await _write_staged(session)
                    if session.info.get(WROTE_EVENTS) and not self._sqlite:
                        await _number_events_in_commit_order(session)
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        finally:
            try:
                _in_transaction.reset(marker)
            except ValueError:  # exited in another context than it was entered in
                _in_transaction.set(None)
        raised = {flag for flag, _ in self._commit_listeners if session.info.get(flag)}
        session.info.pop(WROTE_EVENTS, None)
        for flag, listener in self._commit_listeners:
            if flag in raised:
                listener()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (rolled back at the end); on SQLite it waits for no writer."""
        async with self.read_sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _number_events_in_commit_order(session: AsyncSession) -> None:
    """Give this transaction's outbox rows sequence numbers taken just before COMMIT, under a
    lock held to the end of the transaction, so that seq order is commit order.

    A row's seq is drawn when it is inserted; on PostgreSQL a transaction holding seq 10 can
    commit after one holding seq 11, and the relay, having published 11, publishes 10 after it
    (and a re-seed, in seq order, the other way round). Everything else is flushed before the
    lock is taken, so no row locks are waited for while holding it (no deadlocks). SQLite
    needs none of this: BEGIN IMMEDIATE already runs writers one at a time.
    """
    await session.flush()
    conn = await session.connection()
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OUTBOX_ORDER_LOCK_KEY})
    for event_id in session.info.get(EMITTED_EVENT_IDS, []):
        await conn.execute(_RENUMBER, {"event_id": event_id})


def stage_insert(session: AsyncSession, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` (every column the table needs, defaults included) when the transaction
    commits, in one executemany with the other rows staged for ``table``.

    For append-only rows nobody reads back in the same transaction (outbox events, audit
    entries): building and flushing an ORM object for each costs several times more CPU
    (measured with ``make bench``: the outbox and audit rows were a large part of a consumed
    event's cost). Only :meth:`Database.transaction` writes staged rows.
    """
    staged: dict[Table, list[dict[str, Any]]] = session.info.setdefault(STAGED_INSERTS, {})
    staged.setdefault(table, []).append(row)


async def _write_staged(session: AsyncSession) -> None:
    staged: dict[Table, list[dict[str, Any]]] | None = session.info.pop(STAGED_INSERTS, None)
    if not staged:
        return
    conn = await session.connection()
    for table, rows in staged.items():
        await conn.execute(table.insert(), rows)


Row = TypeVar("Row")


async def fetch_page(
    session: AsyncSession,
    model: type[Row],
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    *,
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """One page of ``model`` rows matching ``where``, and how many match in all: what every
    paginated list endpoint answers (items, total)."""
    total = (await session.exec(select(func.count()).select_from(model).where(*where))).one()
    rows = (
        await session.exec(
            select(model).where(*where).order_by(*order_by).limit(limit).offset(offset)
        )
    ).all()
    return list(rows), int(total)
