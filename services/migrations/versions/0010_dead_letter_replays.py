"""Dead letters say when `fulfil dlq replay` last sent them back to their topic

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SERVICE_SCHEMAS = ("orders", "warehouse", "tracking", "returns", "routing")
"""The schemas there were at this revision."""


def upgrade() -> None:
    # IF NOT EXISTS: revision 0007 creates dead_letters from services/common/messaging.py as it is now, so a
    # database built from scratch has the column already; one migrated before gets it here.
    for schema in SERVICE_SCHEMAS:
        op.execute(f"ALTER TABLE {schema}.dead_letters ADD COLUMN IF NOT EXISTS replayed_at timestamptz")


def downgrade() -> None:
    for schema in SERVICE_SCHEMAS:
        op.drop_column("dead_letters", "replayed_at", schema=schema)
