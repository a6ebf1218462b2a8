"""SQLite for the async engine without a thread hop per statement.

aiosqlite runs every call on a worker thread and hands the result back through the event
loop: measured here, that doubled the cost of a statement (10 trivial statements in one
transaction: 3.3 ms through aiosqlite, 1.8 ms inline). A SQLite statement on a local file takes
microseconds and, in this platform, never waits for a lock held in the same process:

* writers of one process queue on :class:`shared.db.Database`'s asyncio lock (per file)
  before ``BEGIN IMMEDIATE``, so the busy handler is only reached when *another process*
  writes the same file, which the design does not do while a service runs (migrations run
  before it serves);
* readers begin deferred and, in WAL mode, never wait for the writer.

So the calls run inline, on the event loop's thread, through aiosqlite's own API (which
SQLAlchemy's ``sqlite+aiosqlite`` dialect drives); the connection's worker thread is never
started.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """An ``aiosqlite.Connection`` whose calls run on the caller's thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InlineConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def inline_connector(database: str) -> Callable[[], InlineConnection]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    def connect_sqlite() -> sqlite3.Connection:
        # isolation_level=None: SQLAlchemy's events issue BEGIN themselves (see shared.db);
        # check_same_thread=False: the pool may close a connection from another thread.
        return sqlite3.connect(database, isolation_level=None, check_same_thread=False)

    def create() -> InlineConnection:
        return InlineConnection(connect_sqlite, iter_chunk_size=64)

    return create
