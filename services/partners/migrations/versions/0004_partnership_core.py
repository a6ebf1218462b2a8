"""Partnership core: geography, status history, lead names, delegations.

Revision ID: 0004_partnership_core
"""

import sqlalchemy as sa
from alembic import op

from shared.tables import UtcDateTime

revision = "0004_partnership_core"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partnership") as batch:
        batch.add_column(sa.Column("geography", sa.String(2000), nullable=True))
        batch.add_column(sa.Column("updated_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("safeguarding_partner") as batch:
        batch.add_column(sa.Column("lead_name", sa.String(200), nullable=True))
    op.create_table(
        "partnership_status_change",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), sa.ForeignKey("partnership.id"),
                  nullable=False, index=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "delegation",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partnership_id", sa.String(64), sa.ForeignKey("partnership.id"),
                  nullable=False, index=True),
        sa.Column("partner_id", sa.String(64), sa.ForeignKey("safeguarding_partner.id"),
                  nullable=False, index=True),
        sa.Column("delegate_name", sa.String(200), nullable=False),
        sa.Column("delegate_role", sa.String(200), nullable=False),
        sa.Column("rank", sa.String(60), nullable=False),
        sa.Column("levels_below_lead", sa.Integer(), nullable=False),
        sa.Column("below_threshold", sa.Boolean(), nullable=False),
        sa.Column("scope", sa.String(2000), nullable=False),
        sa.Column("accountable_to", sa.String(200), nullable=False),
        sa.Column("delegated_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.String(1000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delegation")
    op.drop_table("partnership_status_change")
    with op.batch_alter_table("safeguarding_partner") as batch:
        batch.drop_column("lead_name")
    with op.batch_alter_table("partnership") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("geography")
