"""Encrypt at rest what could identify a child: the case's children, location and note.

The columns become text holding AES-GCM ciphertext (shared.crypto); rows written before stay
readable (plain values are recognised), so no data is rewritten here.

Revision ID: 0004_encrypt_child_fields
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_encrypt_child_fields"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("case") as batch:
        batch.alter_column(
            "children",
            type_=sa.Text(),
            existing_type=sa.JSON(),
            existing_nullable=True,
            postgresql_using="children::text" if postgresql else None,
        )
        batch.alter_column("location", type_=sa.Text(), existing_type=sa.String(200))
        batch.alter_column(
            "further_children_note", type_=sa.Text(), existing_type=sa.String(2000)
        )


def downgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.alter_column("further_children_note", type_=sa.String(2000))
        batch.alter_column("location", type_=sa.String(200))
        batch.alter_column("children", type_=sa.JSON())
