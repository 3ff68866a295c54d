"""Orders and returns keep the shops' public signing keys: every event on a shop's topic must be signed by a live
key of its shop (services/common/signing_keys.py)

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMAS = ("orders", "returns")
"""The services that read a shop's topic at this revision."""


def upgrade() -> None:
    for schema in SCHEMAS:
        op.create_table(
            "signing_keys",
            sa.Column("key_id", sa.Text(), nullable=False),
            sa.Column("shop_id", sa.Text(), nullable=False),
            sa.Column("public_key", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
            sa.UniqueConstraint("public_key", name=op.f("uq_signing_keys_public_key")),
            schema=schema,
        )
        op.create_index(op.f(f"ix_{schema}_signing_keys_shop_id"), "signing_keys", ["shop_id"], schema=schema)


def downgrade() -> None:
    for schema in SCHEMAS:
        op.drop_table("signing_keys", schema=schema)
