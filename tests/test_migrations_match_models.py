"""Each service's migrations build exactly the tables its models declare (SQLite and
PostgreSQL): a column added to a model without a migration fails here, not in production."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import services.notifications.models as notifications_models
import services.partners.models as partners_models
import services.reporting.models as reporting_models
import services.reviews.models as reviews_models
from shared.db import sync_url
from shared.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parents[1]
SERVICES: dict[str, Any] = {
    "partners": partners_models.PartnersTable.metadata,
    "reviews": reviews_models.ReviewsTable.metadata,
    "notifications": notifications_models.NotificationsTable.metadata,
    "reporting": reporting_models.ReportingTable.metadata,
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_migrations_match_the_models(database_url: str, service: str) -> None:
    await asyncio.to_thread(
        upgrade_to_head, database_url, ROOT / "services" / service / "migrations"
    )
    engine = sa.create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            diffs = compare_metadata(context, [SQLModel.metadata, SERVICES[service]])
    finally:
        engine.dispose()
    tables_only = [
        d for d in diffs if not (isinstance(d, tuple) and d[0] in {"add_index", "remove_index"})
    ]
    assert tables_only == [], f"{service}: models and migrations differ: {tables_only}"
