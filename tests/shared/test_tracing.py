"""One trace from the HTTP request through the outbox and Kafka to the consumer, under a real
uvicorn server, with the trace id on the log lines of both ends.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.processes import EmbeddedBroker
from shared.telemetry import add_span_processor
from tests.shared.widget_service import (
    WidgetService,
    served,
    widget_settings,
    write_migrations,
)
from tests.support.apps import ADMIN, eventually

pytestmark = pytest.mark.timeout(60)


def capture_logs(stream: io.StringIO) -> logging.Handler:
    """Also write the service's log lines to ``stream``, with the formatter the app factory
    installed (so attach after creating the app)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    return handler


async def test_request_publish_and_consume_share_one_trace_and_logs_carry_it(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = widget_settings(f"sqlite:///{tmp_path}/w.db", broker.bootstrap_servers)
    service = WidgetService(
        settings, write_migrations(tmp_path / "migrations"), consumes=[settings.topic]
    )  # it consumes its own events
    app = service.app()  # installs the tracer provider and the JSON log handler
    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter))
    stream = io.StringIO()
    handler = capture_logs(stream)
    try:
        async with served(app) as client:
            response = await client.post(
                "/widgets",
                json={"id": "w-traced", "partnership_id": "p1", "name": "traced"},
                headers=ADMIN,
            )
            assert response.status_code == 201, response.text

            async def consumed() -> bool:
                return (await client.get("/sightings/w-traced")).json()["count"] == 1

            await eventually(consumed, timeout=20)
        spans = exporter.get_finished_spans()
    finally:
        exporter.shutdown()
        logging.getLogger().removeHandler(handler)

    def one(name: str, kind: SpanKind) -> object:
        found = [s for s in spans if s.name == name and s.kind == kind]
        assert len(found) >= 1, f"no {kind} span {name!r} in {[s.name for s in spans]}"
        return found[-1]

    server = one("POST /widgets", SpanKind.SERVER)
    trace_id = server.context.trace_id  # type: ignore[attr-defined]
    publish = [
        s for s in spans if s.name == f"{settings.topic} publish" and s.context.trace_id == trace_id
    ]
    process = [
        s for s in spans if s.name == f"{settings.topic} process" and s.context.trace_id == trace_id
    ]
    assert [s.kind for s in publish] == [SpanKind.PRODUCER]
    assert [s.kind for s in process] == [SpanKind.CONSUMER]
    in_trace = {s.context.span_id for s in spans if s.context.trace_id == trace_id}
    assert publish[0].parent is not None and publish[0].parent.span_id in in_trace
    assert process[0].parent is not None and process[0].parent.span_id in in_trace

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    hex_id = format(trace_id, "032x")
    route_line = [r for r in lines if r.get("event") == "widget created"]
    handler_line = [r for r in lines if r.get("event") == "sighting widget"]
    assert route_line and route_line[-1].get("trace_id") == hex_id
    assert handler_line and handler_line[-1].get("trace_id") == hex_id
