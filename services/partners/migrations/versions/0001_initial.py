"""Partner registry: partnerships, councils, safeguarding partners; shared tables.

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
        "partnership",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "council",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), sa.ForeignKey("partnership.id"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ons_code", sa.String(9), nullable=False, index=True),
        sa.Column("la_number", sa.String(3), nullable=True),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
    )
    op.create_table(
        "safeguarding_partner",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), sa.ForeignKey("partnership.id"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("lead_role", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in ("safeguarding_partner", "council", "partnership", "audit_entry",
                  "client_credential", "client_system", "inbox_event", "outbox_event"):
        op.drop_table(table)
