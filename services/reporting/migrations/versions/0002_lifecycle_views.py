"""Read models of the lifecycle events: case progress, deadline alerts, partnership registry.

Adds columns to partnership_view (status history, council membership, latest published
arrangements) and the tables case_progress_view, deadline_view, delegation_view,
registry_record_view and funding_view. Existing rows need no backfill: the new events fill them.

Revision ID: 0002_lifecycle_views
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.tables import UtcDateTime

revision = "0002_lifecycle_views"
down_revision = "0001"
branch_labels = None
depends_on = None


def _partnership_columns() -> list[sa.Column[Any]]:
    """New columns of partnership_view (fresh objects: a Column belongs to one table)."""
    return [
        sa.Column("status_since", sa.Date(), nullable=True),
        sa.Column("status_history", sa.JSON(), nullable=True),
        sa.Column("fields_as_of", UtcDateTime(), nullable=True),
        sa.Column("council_history", sa.JSON(), nullable=True),
        sa.Column("arrangements_version", sa.Integer(), nullable=True),
        sa.Column("arrangements_url", sa.String(500), nullable=True),
        sa.Column("arrangements_published_on", sa.Date(), nullable=True),
        sa.Column("arrangements_implementation_date", sa.Date(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("partnership_view") as batch:
        for column in _partnership_columns():
            batch.add_column(column)
    op.create_table(
        "case_progress_view",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("transition", sa.String(60), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "deadline_view",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("rule_id", sa.String(60), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("edition", sa.String(40), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_as_of", UtcDateTime(), nullable=True),
        sa.Column("approaching_due_on", sa.Date(), nullable=True),
        sa.Column("working_days_remaining", sa.Integer(), nullable=True),
        sa.Column("breached_due_on", sa.Date(), nullable=True),
        sa.Column("met_on", sa.Date(), nullable=True),
        sa.Column("met_on_time", sa.Boolean(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "delegation_view",
        sa.Column("delegation_id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("partner_kind", sa.String(40), nullable=True),
        sa.Column("below_threshold", sa.Boolean(), nullable=False),
        sa.Column("delegated_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "registry_record_view",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "funding_view",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("year", sa.String(9), nullable=False),
        sa.Column("money_pence", sa.BigInteger(), nullable=False),
        sa.Column("in_kind_pence", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("as_of", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "funding_view",
        "registry_record_view",
        "delegation_view",
        "deadline_view",
        "case_progress_view",
    ):
        op.drop_table(table)
    with op.batch_alter_table("partnership_view") as batch:
        for column in reversed(_partnership_columns()):
            batch.drop_column(column.name)
