"""Inbox (dedupe by event_id) and outbox (events written in the same transaction as the state, deleted once
published: what is left in it is exactly what still has to go out).

Every service schema has the same two tables, declared once here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import (
    BigInteger, Column, DateTime, Identity, Integer, LargeBinary, MetaData, Table, Text, Uuid, delete, func, select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A message ready for Kafka: where it goes and its exact bytes."""

    topic: str
    key: bytes | None
    value: bytes
    event_id: uuid.UUID
    headers: Headers = field(default_factory=list)
    id: int | None = None


class Messaging:
    """The inbox and outbox tables of one service schema, and the statements that use them."""

    def __init__(self, metadata: MetaData) -> None:
        self.inbox = Table(
            "inbox", metadata,
            Column("event_id", Uuid, primary_key=True),
            Column("event_type", Text, nullable=False),
            Column("topic", Text, nullable=False),
            Column("partition", Integer, nullable=False),
            Column("offset", BigInteger, nullable=False),
            Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        )
        self.outbox = Table(
            "outbox", metadata,
            Column("id", BigInteger, Identity(), primary_key=True),
            Column("event_id", Uuid, nullable=False, unique=True),
            Column("topic", Text, nullable=False),
            Column("key", LargeBinary),
            Column("value", LargeBinary, nullable=False),
            Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
            Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        )

    def claim(self, session: Session, event_id: uuid.UUID, event_type: str, topic: str, partition: int,
              offset: int) -> bool:
        """Record the event as processed; False when it already was (a duplicate delivery)."""
        return bool(self.claim_many(session, [{"event_id": event_id, "event_type": event_type, "topic": topic,
                                               "partition": partition, "offset": offset}]))

    def claim_many(self, session: Session, claims: list[dict[str, object]]) -> set[uuid.UUID]:
        """Record many events as processed in one statement; returns the ids that were new."""
        if not claims:
            return set()
        statement = (
            insert(self.inbox).on_conflict_do_nothing(index_elements=["event_id"]).returning(self.inbox.c.event_id)
        )
        return {row[0] for row in session.execute(statement, claims)}

    def enqueue(self, session: Session, records: list[OutboxRecord]) -> list[OutboxRecord]:
        """Write records to the outbox; returns them with their ids (ones already there are skipped)."""
        if not records:
            return []
        rows = [
            {"event_id": r.event_id, "topic": r.topic, "key": r.key, "value": r.value,
             "headers": [[k, v.decode()] for k, v in r.headers]}
            for r in records
        ]
        statement = (
            insert(self.outbox).on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.outbox.c.id, self.outbox.c.event_id, sort_by_parameter_order=True)
        )
        ids = {event_id: row_id for row_id, event_id in session.execute(statement, rows)}
        return [
            OutboxRecord(r.topic, r.key, r.value, r.event_id, r.headers, ids[r.event_id])
            for r in records if r.event_id in ids
        ]

    def delete_sent(self, session: Session, ids: list[int]) -> None:
        """Published rows leave the outbox: it only ever holds what is still to send, and a delete costs
        PostgreSQL far less than rewriting each row (with its payload) to stamp it."""
        if ids:
            session.execute(delete(self.outbox).where(self.outbox.c.id.in_(ids)))

    def lock_unsent(self, session: Session, grace: timedelta, limit: int = 500) -> list[OutboxRecord]:
        """Unsent rows older than `grace` by the database's clock (workers' clocks may differ), locked so
        that only one sweeper publishes them."""
        statement = (
            select(self.outbox)
            .where(self.outbox.c.created_at < func.now() - grace)
            .order_by(self.outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            OutboxRecord(row.topic, row.key, row.value, row.event_id,
                         [(k, v.encode()) for k, v in row.headers], row.id)
            for row in session.execute(statement)
        ]
