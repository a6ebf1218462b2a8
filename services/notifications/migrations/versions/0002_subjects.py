"""Notifications about subjects other than a case (published arrangements: ARR-DFE).

A notification is about a subject (``subject_kind``, ``subject_id``); ``case_id`` stays for
case notifications and is null otherwise. Existing rows are cases: their subject is their
case, and their ids (uuid5 of case, rule, recipient) do not change.

Revision ID: 0002_subjects
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_subjects"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(
            sa.Column("subject_kind", sa.String(20), nullable=False, server_default="case")
        )
        batch.add_column(sa.Column("subject_id", sa.String(100), nullable=True))
    op.execute("UPDATE notification SET subject_id = case_id")
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("subject_kind", server_default=None)
        batch.alter_column("subject_id", existing_type=sa.String(100), nullable=False)
        batch.alter_column("case_id", existing_type=sa.String(64), nullable=True)
        batch.drop_constraint("uq_notification_case_rule", type_="unique")
        batch.create_unique_constraint(
            "uq_notification_subject", ["subject_kind", "subject_id", "rule_id", "recipient"]
        )


def downgrade() -> None:
    # Only case notifications fit the old table.
    op.execute("DELETE FROM delivery_attempt WHERE notification_id IN "
               "(SELECT id FROM notification WHERE case_id IS NULL)")
    op.execute("DELETE FROM notification WHERE case_id IS NULL")
    with op.batch_alter_table("notification") as batch:
        batch.drop_constraint("uq_notification_subject", type_="unique")
        batch.alter_column("case_id", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint(
            "uq_notification_case_rule", ["case_id", "rule_id", "recipient"]
        )
        batch.drop_column("subject_id")
        batch.drop_column("subject_kind")
