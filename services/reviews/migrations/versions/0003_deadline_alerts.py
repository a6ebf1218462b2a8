"""Reviews: deadlines marked met, and the alerts the deadline scheduler fired.

Revision ID: 0003_deadlines
"""

import sqlalchemy as sa
from alembic import op

from shared.tables import UtcDateTime

revision = "0003_deadlines"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadline_met",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False,
                  index=True),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("met_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "rule_id", name="uq_deadline_met"),
    )
    op.create_table(
        "deadline_alert",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("case.id"), nullable=False,
                  index=True),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "rule_id", "kind", "due_on", name="uq_deadline_alert"),
    )


def downgrade() -> None:
    op.drop_table("deadline_alert")
    op.drop_table("deadline_met")
