"""Funding (settings, budgets, contributions) and published arrangements (versions).

Revision ID: 0003_funding
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.tables import UtcDateTime

revision = "0003_funding"
down_revision = "0001"
branch_labels = None
depends_on = None


def _partnership_fk() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "partnership_id", sa.String(64), sa.ForeignKey("partnership.id"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "funding_settings",
        sa.Column(
            "partnership_id", sa.String(64), sa.ForeignKey("partnership.id"), primary_key=True
        ),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("weights", sa.JSON(), nullable=True),
        sa.Column("child_population", sa.Integer(), nullable=True),
        sa.Column("tolerance", sa.String(12), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "funding_budget",
        sa.Column("id", sa.String(64), primary_key=True),
        _partnership_fk(),
        sa.Column("year", sa.String(7), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("partnership_id", "year", name="uq_funding_budget_year"),
    )
    op.create_index("ix_funding_budget_partnership_id", "funding_budget", ["partnership_id"])
    op.create_table(
        "funding_contribution",
        sa.Column("id", sa.String(64), primary_key=True),
        _partnership_fk(),
        sa.Column("year", sa.String(7), nullable=False),
        sa.Column("contributed_on", sa.Date(), nullable=True),
        sa.Column("contributor_kind", sa.String(20), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("agency_id", sa.String(64), nullable=True),
        sa.Column("contributor_name", sa.String(200), nullable=False),
        sa.Column("contributor_key", sa.String(200), nullable=False),
        sa.Column("money_pence", sa.BigInteger(), nullable=False),
        sa.Column("in_kind", sa.JSON(), nullable=True),
        sa.Column("in_kind_pence", sa.BigInteger(), nullable=False),
        sa.Column("decided_unilaterally", sa.Boolean(), nullable=False),
        sa.Column("covers_shortfall", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    )
    for column in ("partnership_id", "year", "contributor_key"):
        op.create_index(f"ix_funding_contribution_{column}", "funding_contribution", [column])
    op.create_table(
        "arrangements_version",
        sa.Column("id", sa.String(64), primary_key=True),
        _partnership_fk(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("based_on_version", sa.Integer(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("implementation_date", sa.Date(), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("partnership_id", "version", name="uq_arrangements_version"),
    )
    op.create_index(
        "ix_arrangements_version_partnership_id", "arrangements_version", ["partnership_id"]
    )


def downgrade() -> None:
    for table in (
        "arrangements_version",
        "funding_contribution",
        "funding_budget",
        "funding_settings",
    ):
        op.drop_table(table)
