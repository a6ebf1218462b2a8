"""Tables of the arrangements feature, on the service's own metadata (PartnersTable).

One row per version of a partnership's published arrangements. A published version is
immutable; republishing makes a new version (domain.md section 2).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from services.partners.models import PartnersTable, new_id
from shared.tables import utc_field


class ArrangementsVersion(PartnersTable, table=True):
    __tablename__ = "arrangements_version"
    __table_args__ = (
        UniqueConstraint("partnership_id", "version", name="uq_arrangements_version"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    partnership_id: str = Field(foreign_key="partnership.id", index=True, max_length=64)
    version: int
    status: str = Field(default="draft", max_length=20)
    based_on_version: int | None = None
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    url: str | None = Field(default=None, max_length=2000)
    published_on: date | None = None
    implementation_date: date | None = None
    published_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
