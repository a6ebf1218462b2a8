"""Relevant agencies and their review cadence; independent scrutiny; strategic links.

Revision ID: 0002_agencies
"""

import sqlalchemy as sa
from alembic import op

from shared.tables import UtcDateTime

revision = "0002_agencies"
down_revision = "0001"
branch_labels = None
depends_on = None


def _partnership_id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "partnership_id",
        sa.String(64),
        sa.ForeignKey("partnership.id"),
        nullable=False,
        index=True,
    )


def upgrade() -> None:
    op.create_table(
        "relevant_agency",
        sa.Column("id", sa.String(64), primary_key=True),
        _partnership_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("contributions", sa.JSON(), nullable=True),
        sa.Column("education_setting", sa.Boolean(), nullable=False),
        sa.Column("youth_custody_or_residential", sa.Boolean(), nullable=False),
        sa.Column("designated_health_professionals", sa.Boolean(), nullable=False),
        sa.Column("named_on", sa.Date(), nullable=False),
        sa.Column("last_reviewed_on", sa.Date(), nullable=True),
        sa.Column("next_review_due", sa.Date(), nullable=False, index=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(1000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "agency_review_policy",
        sa.Column(
            "partnership_id", sa.String(64), sa.ForeignKey("partnership.id"), primary_key=True
        ),
        sa.Column("cadence_months", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "scrutiny_arrangement",
        sa.Column("id", sa.String(64), primary_key=True),
        _partnership_id(),
        sa.Column("model", sa.String(40), nullable=False),
        sa.Column("model_detail", sa.String(500), nullable=True),
        sa.Column("scrutineers", sa.JSON(), nullable=True),
        sa.Column("scope", sa.String(4000), nullable=False),
        sa.Column("reporting_arrangements", sa.String(4000), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(1000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "strategic_link",
        sa.Column("id", sa.String(64), primary_key=True),
        _partnership_id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("notes", sa.String(4000), nullable=True),
        sa.Column("linked_from", sa.Date(), nullable=False),
        sa.Column("linked_to", sa.Date(), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.String(1000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    for table in ("strategic_link", "scrutiny_arrangement", "agency_review_policy",
                  "relevant_agency"):
        op.drop_table(table)
