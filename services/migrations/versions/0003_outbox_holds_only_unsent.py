"""outbox rows are deleted once published: drop sent_at and its partial index

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMAS = ("orders", "warehouse")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f'DELETE FROM "{schema}".outbox WHERE sent_at IS NOT NULL')
        op.drop_index(f"ix_{schema}_outbox_unsent", table_name="outbox", schema=schema)
        op.drop_column("outbox", "sent_at", schema=schema)


def downgrade() -> None:
    for schema in SCHEMAS:
        op.add_column("outbox", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
        op.create_index(f"ix_{schema}_outbox_unsent", "outbox", ["id"], unique=False, schema=schema,
                        postgresql_where=sa.text("sent_at IS NULL"))
