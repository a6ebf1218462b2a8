"""Reporting read models: partnership_view, case_view, notification_view; shared tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_shared_tables
from shared.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables()
    op.create_table(
        "partnership_view",
        sa.Column("partnership_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("status", sa.String(40), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("councils", sa.JSON(), nullable=True),
        sa.Column("partners", sa.JSON(), nullable=True),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "case_view",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("council_ons_code", sa.String(9), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("nature", sa.String(60), nullable=False),
        sa.Column("status", sa.String(40), nullable=False, index=True),
        sa.Column("incident_date", sa.Date(), nullable=True),
        sa.Column("aware_on", sa.Date(), nullable=False),
        sa.Column("notified_at", UtcDateTime(), nullable=False),
        sa.Column("needs_rapid_review", sa.Boolean(), nullable=False),
        sa.Column("children_count", sa.Integer(), nullable=False),
        sa.Column("deadlines", sa.JSON(), nullable=True),
        sa.Column("notify", sa.JSON(), nullable=True),
        sa.Column("involved_partnership_ids", sa.JSON(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "notification_view",
        sa.Column("notification_id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False, index=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("recipient", sa.String(60), nullable=False),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("rule_id", sa.String(60), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_attempt", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("queued_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    for table in ("notification_view", "case_view", "partnership_view", "audit_entry",
                  "client_credential", "client_system", "inbox_event", "outbox_event"):
        op.drop_table(table)
