"""The reviews service: serious incident notifications, cases and their statutory deadlines."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.reviews.cases import Clock, IntakePolicy, system_clock
from services.reviews.deadlines.routes import router as deadlines_router
from services.reviews.deadlines.scheduler import deadline_scheduler
from services.reviews.handlers import HANDLERS
from services.reviews.lifecycle.routes import router as lifecycle_router
from services.reviews.routes import router
from services.reviews.settings import ReviewsSettings
from shared.service import ServiceSpec, create_service_app
from shared.settings import TOPICS


def create_app(settings: ReviewsSettings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """``clock`` gives "now" (tests pass a fixed one, so notification dates are known)."""
    settings = settings or ReviewsSettings()
    app = create_service_app(
        ServiceSpec(
            title="MASA case reviews",
            description="Serious incident notifications, cases and their statutory deadlines.",
            settings=settings,
            routers=[router, lifecycle_router, deadlines_router],
            migrations=Path(__file__).parent / "migrations",
            consumes=[TOPICS["partners"]],
            handlers=HANDLERS,
            workers=[deadline_scheduler(clock)],
        )
    )
    app.state.intake_policy = IntakePolicy.from_settings(settings, clock)
    return app
