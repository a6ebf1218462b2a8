"""The partners service: the partner registry, system of record for who a partnership is."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.partners.agencies.routes import router as agencies_router
from services.partners.arrangements.routes import router as arrangements_router
from services.partners.funding.routes import router as funding_router
from services.partners.routes import router
from services.partners.scrutiny.routes import router as scrutiny_router
from services.partners.settings import PartnersSettings
from shared.service import ServiceSpec, create_service_app


def create_app(settings: PartnersSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            title="MASA partner registry",
            description="Partnerships, their councils and statutory safeguarding partners, "
            "and the client systems allowed to post events.",
            settings=settings or PartnersSettings(),
            routers=[router, agencies_router, funding_router, scrutiny_router, arrangements_router],
            migrations=Path(__file__).parent / "migrations",
        )
    )
