"""Notifications: one row per (case, rule, recipient) and every delivery attempt; shared tables.

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
        "notification",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("partnership_id", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(40), nullable=False),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("first_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("claimed_until", UtcDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "rule_id", "recipient", name="uq_notification_case_rule"),
    )
    op.create_index("ix_notification_case_id", "notification", ["case_id"])
    op.create_index("ix_notification_partnership_id", "notification", ["partnership_id"])
    op.create_index("ix_notification_due", "notification", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("notification_id", sa.String(64), sa.ForeignKey("notification.id"),
                  nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.UniqueConstraint("notification_id", "number", name="uq_delivery_attempt_number"),
    )
    op.create_index("ix_delivery_attempt_notification_id", "delivery_attempt",
                    ["notification_id"])


def downgrade() -> None:
    for table in ("delivery_attempt", "notification", "audit_entry", "client_credential",
                  "client_system", "inbox_event", "outbox_event"):
        op.drop_table(table)
