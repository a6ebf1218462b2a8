"""OpenTelemetry tracing and structured JSON logs carrying the trace id, set up in one call.

The W3C ``traceparent`` of the span that wrote an event is stored with the outbox row and sent
as a Kafka header, so one trace runs from the HTTP POST through Kafka to the webhook delivery.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False
tracer = trace.get_tracer("masa")


class RecordWhenExported(Sampler):
    """Record spans only while something consumes them.

    With no exporter (the default) every span is still created with a real trace and span id,
    so ``traceparent`` still travels in Kafka headers and webhook requests and logs still carry
    the trace id; but nothing is recorded (no attributes, events or timings kept), which
    ``make bench`` showed to be a noticeable share of each request's CPU. Attaching a span
    processor (an exporter, or a test's in-memory one) turns recording on.
    """

    def __init__(self) -> None:
        self.recording = False

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        sampler = ALWAYS_ON if self.recording else ALWAYS_OFF
        return sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RecordWhenExported(recording={self.recording})"


_sampler = RecordWhenExported()


def setup_tracing(service_name: str, exporter: str = "none") -> None:
    """Install the tracer provider once per process. ``exporter``: none, console or otlp."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"masa-{service_name}"}), sampler=_sampler
    )
    span_exporter: SpanExporter | None = None
    _sampler.recording = exporter != "none"
    if exporter == "console":
        span_exporter = ConsoleSpanExporter(out=sys.stderr)
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def add_span_processor(processor: Any) -> None:
    """Attach a processor (tests use an in-memory exporter to read finished spans)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(processor)
        _sampler.recording = True


def instrument_app(app: Any, sync_engine: Any | None = None, *, outbound_http: bool = True) -> None:
    """HTTP server spans (health checks left out), database spans and outbound httpx spans.

    Pass ``sync_engine`` and ``outbound_http`` only when spans are exported: a span per SQL
    statement cost about a tenth of a service's CPU under ``make bench``, and unexported they
    serve no one (the HTTP and Kafka spans stay, since they carry the trace id into logs and
    Kafka headers; outbound calls that must carry ``traceparent`` set it themselves).
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    if sync_engine is not None:
        SQLAlchemyInstrumentor().instrument(engine=sync_engine)
    instrumentor = HTTPXClientInstrumentor()
    if outbound_http and not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    if not traceparent:
        return otel_context.Context()
    return _propagator.extract({"traceparent": traceparent})


@contextmanager
def span_from(
    name: str,
    traceparent: str | None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span whose parent is the given ``traceparent`` (or a new trace)."""
    ctx = context_from_traceparent(traceparent)
    with tracer.start_as_current_span(
        name, context=ctx, kind=kind, attributes=dict(attributes or {})
    ) as span:
        yield span


def _add_trace_ids(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    span_ctx = trace.get_current_span().get_span_context()
    if span_ctx.is_valid:
        event_dict["trace_id"] = format(span_ctx.trace_id, "032x")
        event_dict["span_id"] = format(span_ctx.span_id, "016x")
    return event_dict


def setup_logging(service_name: str, level: str = "INFO", json_logs: bool = True) -> None:
    """structlog for our loggers and the standard library's (uvicorn, aiokafka), one format."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        lambda _l, _n, ed: {**ed, "service": service_name},
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # URLs may carry secrets
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
