"""The notifications service: statutory notifications to national bodies, delivered and proved."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notifications.delivery import delivery_worker
from services.notifications.handlers import make_handlers
from services.notifications.routes import router
from services.notifications.settings import NotificationsSettings
from shared.service import ServiceSpec, create_service_app
from shared.settings import TOPICS


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    return create_service_app(
        ServiceSpec(
            title="MASA notifications",
            description="Statutory notifications to the Child Safeguarding Practice Review "
            "Panel, Ofsted, DfE and others: signed webhooks with retries, or manual "
            "submission, with every attempt on record.",
            settings=settings,
            routers=[router],
            migrations=Path(__file__).parent / "migrations",
            consumes=[TOPICS["reviews"], TOPICS["partners"]],
            handlers=make_handlers(settings),
            workers=[delivery_worker],
        )
    )
