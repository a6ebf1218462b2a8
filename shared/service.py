"""The runtime every service shares: app factory, lifespan, health, metrics and dependencies.

A service describes itself with a :class:`ServiceSpec` (routers, migrations, the topics and
event types it consumes, background workers); :func:`create_service_app` wires the rest the
same way for all four: migrations at start-up, the database, the Kafka bus (retried in the
background so the service accepts writes while the broker is down), the outbox relay, the
inbox consumer, problem responses, telemetry, ``/healthz``, ``/readyz``, ``/metrics``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Principal, authenticate, bearer_token
from shared.bus import KafkaBus
from shared.consumer import BatchLoader, EventConsumer, Handler
from shared.crypto import configure_field_keys
from shared.db import Database
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.migrations import upgrade_to_head
from shared.outbox import Outbox, OutboxRelay
from shared.problems import Problem, install_problem_handlers
from shared.settings import DEAD_LETTER_SUFFIX, ServiceSettings
from shared.telemetry import instrument_app, setup_logging, setup_tracing

log = logging.getLogger("masa.service")

Worker = Callable[["Runtime"], Awaitable[None]]


@dataclass
class ServiceSpec:
    title: str
    description: str
    settings: ServiceSettings
    routers: Sequence[APIRouter]
    migrations: Path
    consumes: Sequence[str] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    batch_loader: BatchLoader | None = None
    workers: Sequence[Worker] = ()
    version: str = "0.1.0"


class Runtime:
    """What a running service holds; reachable from routes as ``RuntimeDep``."""

    def __init__(self, spec: ServiceSpec) -> None:
        s = spec.settings
        self.spec = spec
        self.settings = s
        self.db = Database(s.database_url)
        self.bus = KafkaBus(
            s.kafka_bootstrap_servers,
            client_id=f"masa-{s.service_name}",
            idempotent=s.kafka_idempotent_producer,
            partitions=s.kafka_topic_partitions,
            replication_factor=s.kafka_replication_factor,
        )
        self.outbox = Outbox(s.service_name, s.topic)
        self.relay = OutboxRelay(
            self.db,
            self.bus,
            poll_seconds=s.outbox_poll_seconds,
            linger_seconds=s.outbox_linger_seconds,
        )
        self.broker_ready = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        self.tasks.append(asyncio.create_task(_supervise(name, factory), name=name))

    async def connect_bus(self) -> None:
        """Connect to the broker (retrying), create topics, re-seed if needed, then run."""
        delay = 0.5
        while True:
            try:
                await self.bus.start()
                break
            except Exception as exc:
                log.warning("broker not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        topics = [self.settings.topic, *self.spec.consumes]
        await self.bus.ensure_topics([*topics, *(t + DEAD_LETTER_SUFFIX for t in topics)])
        await self.relay.reseed_if_log_lost(self.settings.topic)
        self.broker_ready.set()
        self.spawn("outbox-relay", self.relay.run)
        if self.spec.handlers:
            consumer = EventConsumer(
                self.bus,
                self.db,
                group_id=self.settings.consumer_group or f"masa-{self.settings.service_name}",
                topics=list(self.spec.consumes),
                handlers=self.spec.handlers,
                batch_loader=self.spec.batch_loader,
                session_timeout_ms=self.settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
                fetch_max_wait_ms=self.settings.consumer_fetch_wait_ms
                if self.settings.consumer_fetch_wait_ms is not None
                else self.settings.kafka_fetch_max_wait_ms,
            )
            self.spawn("event-consumer", consumer.run)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        await self.bus.stop()
        await self.db.dispose()


async def _supervise(name: str, factory: Callable[[], Awaitable[None]]) -> None:
    """Run a long-lived loop; restart it after a crash, with backoff."""
    delay = 0.5
    while True:
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting in %.1fs", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


class _MetricsMiddleware:
    """Request count and latency per route. Plain ASGI: Starlette's BaseHTTPMiddleware runs
    each request through an extra task and stream, which showed up in profiles under load."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, status).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - start)


ops_router = APIRouter(tags=["operations"])


@ops_router.get("/healthz", summary="Alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@ops_router.get("/readyz", summary="Database and broker reachable")
async def readyz(request: Request) -> dict[str, str]:
    runtime: Runtime = request.app.state.runtime
    checks = {"database": "ok", "broker": "ok"}
    try:
        await runtime.db.ping()
    except Exception as exc:
        checks["database"] = f"unavailable: {exc.__class__.__name__}"
    if not runtime.broker_ready.is_set():
        checks["broker"] = "connecting"
    else:
        try:
            await runtime.bus.ping()
        except Exception as exc:
            checks["broker"] = f"unavailable: {exc.__class__.__name__}"
    if any(v != "ok" for v in checks.values()):
        p = Problem("Not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items()), checks=checks)
        p.status, p.title, p.slug = 503, "Service not ready", "not-ready"
        raise p
    return {"status": "ready", **checks}


@ops_router.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_tracing(settings.service_name, settings.otel_exporter)
    configure_field_keys(settings.field_key_list())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade_to_head, settings.database_url, spec.migrations)
        runtime = Runtime(spec)
        app.state.runtime = runtime
        exported = settings.otel_exporter != "none"
        instrument_app(
            app, runtime.db.engine.sync_engine if exported else None, outbound_http=exported
        )
        runtime.tasks.append(asyncio.create_task(runtime.connect_bus(), name="connect-bus"))
        for worker in spec.workers:
            runtime.spawn(getattr(worker, "__name__", "worker"), lambda w=worker: w(runtime))  # type: ignore[misc]
        if _serving:
            settle_heap()
        log.info("%s started on %s:%s", settings.service_name, settings.host, settings.port)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.add_middleware(_MetricsMiddleware, service=settings.service_name)
    app.include_router(ops_router)
    for router in spec.routers:
        app.include_router(router)
    return app


# Set by serve(): this process is one service, so start-up may tune the process's collector.
_serving = False
# Young-generation threshold: CPython's default (700) runs a collection every few hundred
# allocations, dozens per consumed batch.
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """After start-up, move what is alive (modules, compiled queries, models) out of the
    garbage collector's reach and collect the young generation less often.

    Measured with ``make bench`` (gc callbacks): with the defaults each service spent 10-15%
    of its CPU in the collector, and a full collection walked the whole start-up heap, a
    pause of 130-300 ms in the middle of a stream of events.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run one service in this process (``python -m services.<name>``)."""
    import uvicorn

    global _serving
    _serving = True
    if settings.nice and hasattr(os, "nice"):
        os.nice(settings.nice)

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


# ---- dependencies every service's routes use -------------------------------------------


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _transaction(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.db.transaction() as session:
        yield session


# scope="function": the transaction commits before the response is sent, so a client never
# sees 201 for something that was not stored.
SessionDep = Annotated[AsyncSession, Depends(_transaction, scope="function")]


async def _principal(request: Request, runtime: RuntimeDep, session: SessionDep) -> Principal:
    return await authenticate(session, bearer_token(request), runtime.settings.admin_token)


PrincipalDep = Annotated[Principal, Depends(_principal)]
