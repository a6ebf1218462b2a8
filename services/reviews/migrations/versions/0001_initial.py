"""Reviews: local copy of partnerships and councils, cases and their deadlines; shared tables.

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
        "partnership_ref",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("council_ons_codes", sa.JSON(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "council_ref",
        sa.Column("ons_code", sa.String(9), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), nullable=False, index=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("client_reference", sa.String(100), nullable=False),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("council_ons_code", sa.String(9), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("nature", sa.String(20), nullable=False),
        sa.Column("abuse_or_neglect_known_or_suspected", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False, index=True),
        sa.Column("incident_date", sa.Date(), nullable=True),
        sa.Column("aware_on", sa.Date(), nullable=False),
        sa.Column("notified_at", UtcDateTime(), nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("children", sa.JSON(), nullable=True),
        sa.Column("further_children_note", sa.String(2000), nullable=True),
        sa.Column("involved_council_ons_codes", sa.JSON(), nullable=True),
        sa.Column("involved_partnership_ids", sa.JSON(), nullable=True),
        sa.Column("needs_rapid_review", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("partnership_id", "client_reference",
                            name="uq_case_client_reference"),
    )
    op.create_table(
        "case_deadline",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False,
                  index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("edition", sa.String(20), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=True),
        sa.Column("verify", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    for table in ("case_deadline", "case", "council_ref", "partnership_ref", "audit_entry",
                  "client_credential", "client_system", "inbox_event", "outbox_event"):
        op.drop_table(table)
