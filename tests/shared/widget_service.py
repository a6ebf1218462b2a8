"""A throwaway service ("widgets") for testing the shared mechanisms through their public API.

It is built exactly like a real service: a :class:`ServiceSpec`, its own metadata base, an
Alembic migrations folder (written into a temporary directory) whose first revision calls
``create_shared_tables()``, and routes on ``SessionDep`` / ``PrincipalDep`` / ``RuntimeDep``.

* ``POST /widgets`` writes a widget, emits ``widget.created`` and an audit entry in the
  request's transaction. Names steer failures: ``refuse-after-emit`` raises a problem (409)
  and ``crash-after-emit`` an unexpected error, both after the emit; ``slow-commit-N``
  waits N ms between inserting its rows and committing.
* ``GET /widgets/{id}`` reads one back (another partnership's widget answers 404).
* The consumer handler records one *sighting* per ``widget.created`` it handles, readable at
  ``GET /sightings/{widget_id}``. Names steer it: ``fail-N`` raises on the first N attempts,
  ``bad-sql`` runs a broken query, ``hold`` waits until the test releases it.

The ``widget.created`` payload type is in the global event registry only while a widget service
runs, so it never leaks into checks over ``shared.contracts`` (e.g. the AsyncAPI document).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord, RecordMetadata
from fastapi import APIRouter, FastAPI, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import registry
from sqlmodel import Column, Integer, SQLModel, col, select
from sqlmodel import Field as SQLField
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.audit import record_audit
from shared.events import REGISTRY, CloudEvent, EventPayload
from shared.problems import Conflict, NotFound
from shared.service import PrincipalDep, RuntimeDep, ServiceSpec, SessionDep, create_service_app
from shared.settings import ServiceSettings
from shared.tables import utc_field
from tests.support.apps import running_app

log = logging.getLogger("masa.widgets")

_FAIL = re.compile(r"^fail-(\d+)$")
_SLOW = re.compile(r"^slow-commit-(\d+)$")


class WidgetTable(SQLModel, registry=registry()):
    """The widgets' own metadata base: what ``shared.db.new_metadata_base`` makes, written as
    a class statement so that mypy accepts it as a base class."""


class Widget(WidgetTable, table=True):
    __tablename__ = "widget"

    id: str = SQLField(primary_key=True, max_length=64)
    partnership_id: str = SQLField(index=True, max_length=64)
    name: str = SQLField(max_length=200)
    created_at: datetime = utc_field(default_now=True)
    due_at: datetime | None = utc_field(nullable=True)


class Sighting(WidgetTable, table=True):
    """One row per handler run: a handler that ran twice for one event leaves two rows."""

    __tablename__ = "widget_sighting"

    id: int | None = SQLField(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    event_id: str = SQLField(max_length=64)
    widget_id: str = SQLField(index=True, max_length=64)


class WidgetCreated(EventPayload):
    """A widget was created (test-only event)."""

    event_name = "widget.created"
    widget_id: str
    name: str


# Registered only while a widget service runs (see module docstring).
REGISTRY.pop(WidgetCreated.type_name(), None)
_registrations = 0


@contextlib.contextmanager
def widget_events_registered() -> Iterator[None]:
    global _registrations
    _registrations += 1
    REGISTRY[WidgetCreated.type_name()] = WidgetCreated
    try:
        yield
    finally:
        _registrations -= 1
        if not _registrations:
            REGISTRY.pop(WidgetCreated.type_name(), None)


class WidgetIn(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=64)
    partnership_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    due_at: AwareDatetime | None = None


class WidgetOut(BaseModel):
    id: str
    partnership_id: str
    name: str
    created_at: datetime
    due_at: datetime | None


router = APIRouter()


@router.post("/widgets", status_code=status.HTTP_201_CREATED)
async def create_widget(
    body: WidgetIn, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> WidgetOut:
    principal.require_partnership(body.partnership_id)
    widget = Widget(
        id=body.id, partnership_id=body.partnership_id, name=body.name, due_at=body.due_at
    )
    session.add(widget)
    runtime.outbox.emit(
        session,
        WidgetCreated(widget_id=widget.id, name=widget.name),
        partnership_id=widget.partnership_id,
        subject=widget.id,
    )
    record_audit(
        session, principal, "create", "widget", widget.id, partnership_id=widget.partnership_id
    )
    log.info("widget created", extra={"widget_id": widget.id})
    if body.name == "refuse-after-emit":
        raise Conflict("Refused on purpose after the event was emitted.")
    if body.name == "crash-after-emit":
        raise RuntimeError("crashed on purpose: secret-internal-detail")
    await session.flush()
    slow = _SLOW.match(body.name)
    if slow:  # a longer way from the outbox insert to COMMIT, so commits overtake each other
        await asyncio.sleep(int(slow.group(1)) / 1000)
    return WidgetOut.model_validate(widget, from_attributes=True)


@router.get("/widgets/{widget_id}")
async def get_widget(widget_id: str, principal: PrincipalDep, session: SessionDep) -> WidgetOut:
    widget = await session.get(Widget, widget_id)
    if widget is None:
        raise NotFound("Widget not found.")
    principal.require_partnership(widget.partnership_id, "Widget")
    return WidgetOut.model_validate(widget, from_attributes=True)


@router.get("/sightings/{widget_id}")
async def sightings(widget_id: str, session: SessionDep) -> dict[str, Any]:
    rows = (
        await session.exec(
            select(Sighting).where(Sighting.widget_id == widget_id).order_by(col(Sighting.id))
        )
    ).all()
    return {"count": len(rows), "event_ids": [r.event_id for r in rows]}


MIGRATION = '''
"""Widgets (test service) and the shared tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_shared_tables
from shared.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "widget",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "widget_sighting",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("widget_id", sa.String(64), nullable=False, index=True),
    )
'''

ENV = """
from shared.migrations import run_env
from tests.shared.widget_service import WidgetTable

run_env(WidgetTable.metadata)
"""


def write_migrations(directory: Path) -> Path:
    """The widgets' Alembic folder (env.py + one revision), like a service's migrations/."""
    (directory / "versions").mkdir(parents=True, exist_ok=True)
    (directory / "env.py").write_text(textwrap.dedent(ENV))
    (directory / "versions" / "0001_widgets.py").write_text(MIGRATION)
    return directory


def widget_settings(database_url: str, bootstrap_servers: str, **overrides: Any) -> ServiceSettings:
    """Settings with a unique topic and consumer group, so tests never share them."""
    unique = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "service_name": "widgets",
        "environment": "test",
        "database_url": database_url,
        "kafka_bootstrap_servers": bootstrap_servers,
        "kafka_topic_partitions": 3,
        "topic": f"widgets-{unique}.events",
        "consumer_group": f"widgets-{unique}",
        "log_level": "INFO",
        **overrides,
    }
    return ServiceSettings(**values)


class WidgetService:
    """One instance of the widgets service: its spec, and what its handler has seen."""

    def __init__(
        self, settings: ServiceSettings, migrations: Path, *, consumes: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.migrations = migrations
        self.consumes = list(consumes)
        self.attempts: Counter[str] = Counter()  # handler attempts per event id
        self.release = asyncio.Event()  # lets "hold" widgets through
        self.holding = asyncio.Event()  # set while a "hold" widget waits

    async def on_widget_created(
        self, session: AsyncSession, event: CloudEvent, payload: WidgetCreated
    ) -> None:
        self.attempts[event.id] += 1
        log.info("sighting widget", extra={"widget_id": payload.widget_id})
        failing = _FAIL.match(payload.name)
        if failing and self.attempts[event.id] <= int(failing.group(1)):
            raise RuntimeError(f"handler failed on purpose (attempt {self.attempts[event.id]})")
        if payload.name == "bad-sql":  # a handler bug the database reports
            await session.exec(text("SELECT no_such_column FROM no_such_table"))  # type: ignore[call-overload]
        session.add(Sighting(event_id=event.id, widget_id=payload.widget_id))
        if payload.name == "hold":
            await session.flush()
            self.holding.set()
            await self.release.wait()

    def spec(self) -> ServiceSpec:
        return ServiceSpec(
            title="Widgets (test service)",
            description="Exercises the shared mechanisms.",
            settings=self.settings,
            routers=[router],
            migrations=self.migrations,
            consumes=self.consumes,
            handlers={WidgetCreated.type_name(): self.on_widget_created}  # type: ignore[dict-item]
            if self.consumes
            else {},
        )

    def app(self) -> FastAPI:
        return create_service_app(self.spec())

    @contextlib.asynccontextmanager
    async def running(self, *, wait_ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
        """The app with its lifespan entered and a client talking to it in-process."""
        app = self.app()
        with widget_events_registered():
            async with running_app(app) as client:
                if wait_ready:
                    await wait_ready_(client)
                yield client


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app under a real uvicorn server (lifespan and all) on a free port, in this process."""
    import uvicorn

    from shared.processes import free_port

    with widget_events_registered():
        async with _served(app, free_port(), uvicorn) as client:
            yield client


@contextlib.asynccontextmanager
async def _served(app: FastAPI, port: int, uvicorn: Any) -> AsyncIterator[httpx.AsyncClient]:
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn exited before starting")
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_ready_(client)
            yield client
    finally:
        server.should_exit = True
        await task


async def wait_ready_(client: httpx.AsyncClient, within: float = 20.0) -> None:
    """Until /readyz answers 200 (database reachable, broker connected, topics created)."""
    deadline = time.monotonic() + within
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready: {response.text}")
        await asyncio.sleep(0.05)


# ---- Kafka helpers for tests: raw records, with keys and headers -------------------------


async def _assigned_consumer(bootstrap: str, topic: str, within: float) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    deadline = time.monotonic() + within
    parts: set[int] = set()
    while not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            if time.monotonic() > deadline:
                await consumer.stop()
                raise AssertionError(f"topic {topic} does not exist")
            await asyncio.sleep(0.1)
    consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
    return consumer


Records = list[ConsumerRecord[bytes, bytes]]


async def read_records(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[Records], bool],
    within: float = 15.0,
) -> Records:
    """Every record of a topic from the beginning (all partitions), until ``until`` holds."""
    consumer = await _assigned_consumer(bootstrap, topic, within)
    try:
        await consumer.seek_to_beginning()
        records: Records = []
        deadline = time.monotonic() + within
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
            if until(records):
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out on {topic} with {len(records)} records")
    finally:
        await consumer.stop()


class TopicTail:
    """A reader positioned at the end of a topic now, to time what arrives next."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.records: Records = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicTail:
        self._consumer = await _assigned_consumer(self.bootstrap, self.topic, 15.0)
        await self._consumer.seek_to_end()
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)  # resolve the end offsets now, not later
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def wait_for(self, check: Callable[[Records], bool], within: float) -> Records:
        assert self._consumer is not None
        deadline = time.monotonic() + within
        while not check(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing matching on {self.topic} within {within}s")
            batch = await self._consumer.getmany(timeout_ms=20)
            for part in batch.values():
                self.records.extend(part)
        return self.records


def event_of(record: ConsumerRecord[bytes, bytes]) -> CloudEvent:
    return CloudEvent.from_bytes(record.value)


def widget_ids(records: Records) -> list[str]:
    out = []
    for record in records:
        with contextlib.suppress(Exception):
            out.append(str(event_of(record).data.get("widget_id")))
    return out


async def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    *,
    key: str = "p-test",
    headers: list[tuple[str, bytes]] | None = None,
) -> list[RecordMetadata]:
    """Write raw records, as another service (or a broken one) would; in order, one by one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        return [
            await producer.send_and_wait(
                topic, value=value, key=key.encode(), headers=headers or []
            )
            for value in values
        ]
    finally:
        await producer.stop()


def widget_event(
    widget_id: str, name: str, *, partnership_id: str = "p-test", event_id: str | None = None
) -> CloudEvent:
    """A ``widget.created`` envelope as another producer would send it."""
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/masa/elsewhere",
        type=WidgetCreated.type_name(),
        partnershipid=partnership_id,
        subject=widget_id,
        data={"widget_id": widget_id, "name": name},
    )
