"""The partners service: the partner registry, system of record for who a partnership is."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.partners.routes import router
from services.partners.settings import PartnersSettings
from shared.service import ServiceSpec, create_service_app


def create_app(settings: PartnersSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceSpec(
            title="MASA partner registry",
            description="Partnerships, their councils and statutory safeguarding partners, "
            "and the client systems allowed to post events.",
            settings=settings or PartnersSettings(),
            routers=[router],
            migrations=Path(__file__).parent / "migrations",
        )
    )
