"""The inbox and outbox as the first revisions created them, once: 0001-0006 call this instead of repeating the
DDL, and later revisions alter them (0003 drops sent_at, 0007 adds the retry columns and the parked, dead-letter
and position tables from services/common/messaging.py). A new service's migration creates all of them at today's
shape with `Messaging(service_metadata(name))` (see docs/architecture.md, "Adding a service")."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def create_inbox_and_outbox(schema: str, *, sent_at: bool) -> None:
    """`sent_at`: the outbox of revisions before 0003 kept sent rows, marked by it (and indexed the unsent)."""
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_inbox")),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        *([sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True)] if sent_at else []),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema=schema,
    )
    if sent_at:
        op.create_index(f"ix_{schema}_outbox_unsent", "outbox", ["id"], unique=False, schema=schema,
                        postgresql_where=sa.text("sent_at IS NULL"))


def drop_inbox_and_outbox(schema: str, *, sent_at: bool) -> None:
    if sent_at:
        op.drop_index(f"ix_{schema}_outbox_unsent", table_name="outbox", schema=schema,
                      postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_table("outbox", schema=schema)
    op.drop_table("inbox", schema=schema)
