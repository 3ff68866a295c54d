"""Tracking: shops' API keys in the database (hashes only), managed by `fulfil shop-key add|list|revoke`

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("shop_id", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_shop_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_shop_keys_key_hash")),
        schema="tracking",
    )


def downgrade() -> None:
    op.drop_table("shop_keys", schema="tracking")
