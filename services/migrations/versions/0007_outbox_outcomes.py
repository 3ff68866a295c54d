"""Every service schema: outbox rows retried with a back-off of their own, parked records, dead letters kept
whole, and the processed position of each partition

The new tables are created from their one definition in services/common/messaging.py.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa

from services.common.db import service_metadata
from services.common.messaging import Messaging

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SERVICE_SCHEMAS = ("orders", "warehouse", "tracking", "returns", "routing")
"""The schemas there were at this revision: a service added later gets these tables from its own migration."""


def _new_tables(schema: str) -> list[sa.Table]:
    messaging = Messaging(service_metadata(schema))
    return [messaging.parked, messaging.dead_letters, messaging.offsets]


def upgrade() -> None:
    for schema in SERVICE_SCHEMAS:
        op.add_column("outbox", sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
                      schema=schema)
        op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
                      schema=schema)
        op.add_column("outbox", sa.Column("last_error", sa.Text(), nullable=True), schema=schema)
        for table in _new_tables(schema):
            table.create(op.get_bind())


def downgrade() -> None:
    for schema in SERVICE_SCHEMAS:
        for table in reversed(_new_tables(schema)):
            table.drop(op.get_bind())
        for column in ("last_error", "next_attempt_at", "attempts"):
            op.drop_column("outbox", column, schema=schema)
