"""Notification bodies encrypted at rest (shared.crypto): the column becomes text holding
ciphertext; bodies written before stay readable, so no data is rewritten.

Revision ID: 0003_encrypt_bodies
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_encrypt_bodies"
down_revision = "0002_subjects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("notification") as batch:
        batch.alter_column(
            "body",
            type_=sa.Text(),
            existing_type=sa.JSON(),
            existing_nullable=False,
            postgresql_using="body::text" if postgresql else None,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.alter_column("body", type_=sa.JSON(), existing_nullable=False)
