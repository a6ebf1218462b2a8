"""Prometheus metrics, defined once per process (several apps may share a process in tests)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "masa_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "masa_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
EVENTS_PUBLISHED = Counter("masa_events_published_total", "Outbox rows published to Kafka")
OUTBOX_PENDING = Gauge("masa_outbox_pending", "Outbox rows seen unpublished in the last batch")
EVENTS_CONSUMED = Counter(
    "masa_events_consumed_total", "Events consumed", ["group", "type", "outcome"]
)
