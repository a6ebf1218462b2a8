"""The reporting service: read models of every event, and the dashboard API and page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.reporting.handlers import HANDLERS
from services.reporting.routes import router
from services.reporting.rowcache import preload
from services.reporting.settings import ReportingSettings
from shared.service import ServiceSpec, create_service_app
from shared.settings import TOPICS


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            title="MASA reporting",
            description="Read models built from every platform event: partnerships, open "
            "cases, statutory deadlines and the delivery of statutory notifications.",
            settings=settings or ReportingSettings(),
            routers=[router],
            migrations=Path(__file__).parent / "migrations",
            consumes=[TOPICS["partners"], TOPICS["reviews"], TOPICS["notifications"]],
            handlers=HANDLERS,
            batch_loader=preload,
        )
    )
