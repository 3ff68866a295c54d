"""Inbox (dedupe by event_id) and outbox (events written in the same transaction as the state, deleted once
published: what is left in it is exactly what still has to go out), and what an operator needs beside them:
records that can never be published (parked, with the reason), dead letters kept whole, and how far each
partition has been processed.

Every service schema has the same tables, declared once here; migrations create them from these definitions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    BindParameter,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from services.common.db import Rows

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
        self.metadata = metadata
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
            Column("attempts", Integer, nullable=False, server_default=text("0")),
            Column("next_attempt_at", DateTime(timezone=True)),
            Column("last_error", Text),
        )
        self.parked = Table(
            "outbox_parked", metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("event_id", Uuid, nullable=False, unique=True),
            Column("topic", Text, nullable=False),
            Column("key", LargeBinary),
            Column("value", LargeBinary, nullable=False),
            Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            Column("reason", Text, nullable=False),
        )
        self.dead_letters = Table(
            "dead_letters", metadata,
            Column("id", Uuid, primary_key=True),
            Column("source_topic", Text, nullable=False),
            Column("source_partition", Integer, nullable=False),
            Column("source_offset", BigInteger, nullable=False),
            Column("key", LargeBinary),
            Column("value", LargeBinary, nullable=False),
            Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
            Column("reason", Text, nullable=False),
            Column("service", Text, nullable=False),
            Column("failed_at", DateTime(timezone=True), nullable=False),
            Column("size", Integer, nullable=False),
            Column("sha256", Text, nullable=False),
            Column("replayed_at", DateTime(timezone=True), doc="When `fulfil dlq replay` last sent it back"),
            UniqueConstraint("source_topic", "source_partition", "source_offset"),
        )
        self.offsets = Table(
            "consumer_offsets", metadata,
            Column("topic", Text, nullable=False),
            Column("partition", Integer, nullable=False),
            Column("next_offset", BigInteger, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
            PrimaryKeyConstraint("topic", "partition"),
        )
        self._inbox_rows = Rows(self.inbox, ("event_id", "event_type", "topic", "partition", "offset"))
        self._claim = (self._inbox_rows.statement.on_conflict_do_nothing(index_elements=["event_id"])
                       .returning(self.inbox.c.event_id))
        self._outbox_rows = Rows(self.outbox, ("event_id", "topic", "key", "value", "headers"))
        self._enqueue = (self._outbox_rows.statement.on_conflict_do_nothing(index_elements=["event_id"])
                         .returning(self.outbox.c.id, self.outbox.c.event_id))
        # Statements every batch runs, made once: SQLAlchemy then finds them compiled without building a cache
        # key each time, a cost paid per transaction that small batches feel most.
        outbox = postgresql.dialect().identifier_preparer.format_table(self.outbox)  # type: ignore[no-untyped-call]
        ids = bindparam("ids", type_=ARRAY(BigInteger))
        lock = f"SELECT id FROM {outbox} WHERE id = ANY(:ids) FOR UPDATE SKIP LOCKED"
        self._lock_ids = text(lock).bindparams(ids).columns(self.outbox.c.id)
        self._delete_sent = text(
            f"WITH locked AS ({lock}) DELETE FROM {outbox} WHERE id = ANY(ARRAY(SELECT id FROM locked))"
        ).bindparams(ids)
        self._offset_rows = Rows(self.offsets, ("topic", "partition", "next_offset"))
        self._record_offsets = self._offset_rows.statement.on_conflict_do_update(
            index_elements=["topic", "partition"],
            set_={"next_offset": func.greatest(self.offsets.c.next_offset,
                                               self._offset_rows.statement.excluded.next_offset),
                  "updated_at": func.now()})

    def claim(self, session: Session, event_id: uuid.UUID, event_type: str, topic: str, partition: int,
              offset: int) -> bool:
        """Record the event as processed; False when it already was (a duplicate delivery)."""
        return bool(self.claim_many(session, [{"event_id": event_id, "event_type": event_type, "topic": topic,
                                               "partition": partition, "offset": offset}]))

    def claim_many(self, session: Session, claims: list[dict[str, object]]) -> set[uuid.UUID]:
        """Record many events as processed in one statement; returns the ids that were new."""
        if not claims:
            return set()
        return set(self._inbox_rows.write(session, claims, self._claim).scalars())

    def enqueue(self, session: Session, records: list[OutboxRecord]) -> list[OutboxRecord]:
        """Write records to the outbox, ids counting up in their order; returns them with their ids (ones already
        there are skipped)."""
        if not records:
            return []
        rows = [{"event_id": r.event_id, "topic": r.topic, "key": r.key, "value": r.value,
                 "headers": [[k, v.decode()] for k, v in r.headers]} for r in records]
        ids = {event_id: row_id for row_id, event_id in self._outbox_rows.write(session, rows, self._enqueue)}
        return [
            OutboxRecord(r.topic, r.key, r.value, r.event_id, r.headers, ids[r.event_id])
            for r in records if r.event_id in ids
        ]

    def delete_sent(self, session: Session, ids: list[int]) -> None:
        """Published rows leave the outbox: it only ever holds what is still to send, and a delete costs
        PostgreSQL far less than rewriting each row (with its payload) to stamp it. Rows a sweeper holds locked
        are left to it (it publishes and deletes them itself): waiting for its lock could wait for the broker.
        One statement: the rows are found by primary key (`id = ANY(array)`, see lock_ids), locked and deleted."""
        if ids:
            session.execute(self._delete_sent, {"ids": sorted(ids)})

    def lock_unsent(self, session: Session, grace: timedelta, limit: int = 500) -> list[OutboxRecord]:
        """Unsent rows older than `grace` by the database's clock (workers' clocks may differ) and due for another
        attempt, locked so that only one sweeper publishes them."""
        o = self.outbox.c
        earlier = self.outbox.alias("earlier")
        waiting_ahead = select(earlier.c.id).where(  # a row of the same key still in its back-off goes first
            earlier.c.topic == o.topic, earlier.c.key == o.key, earlier.c.id < o.id,
            earlier.c.next_attempt_at > func.now()).exists()
        statement = (
            select(self.outbox)
            .where(o.created_at < func.now() - grace,
                   (o.next_attempt_at.is_(None)) | (o.next_attempt_at <= func.now()), ~waiting_ahead)
            .order_by(o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            OutboxRecord(row.topic, row.key, row.value, row.event_id,
                         [(k, v.encode()) for k, v in row.headers], row.id)
            for row in session.execute(statement)
        ]

    def defer(self, session: Session, failures: list[tuple[int, str]], base_s: float, cap_s: float) -> None:
        """Rows whose publishing failed for a reason that may pass: tried again after a back-off that doubles
        with their attempts (base_s, 2*base_s, ... never above cap_s)."""
        locked = self.lock_ids(session, [row_id for row_id, _ in failures])
        if not locked:
            return
        o = self.outbox.c
        wait = func.least(cap_s, base_s * func.power(2, o.attempts)) * text("interval '1 second'")
        session.execute(
            update(self.outbox).where(o.id == bindparam("row_id"))
            .values(attempts=o.attempts + 1, last_error=bindparam("error"), next_attempt_at=func.now() + wait),
            [{"row_id": row_id, "error": error[:1000]} for row_id, error in failures if row_id in locked])

    def lock_ids(self, session: Session, ids: list[int]) -> set[int]:
        """Lock these rows for the caller's transaction, skipping the ones someone else holds; returns those locked.

        Every statement on outbox rows by id finds them through the primary key (`id = ANY(array)`), never as
        a join against a locking subquery: the outbox is filled and emptied all day, so its statistics say it
        is almost empty, and the planner then joins by scanning all of it once per id (a quadratic delete that
        took 40% of PostgreSQL's time under load)."""
        if not ids:
            return set()
        return set(session.execute(self._lock_ids, {"ids": sorted(ids)}).scalars())

    def first_ids(self, session: Session, keys: list[tuple[str, bytes]]) -> dict[tuple[str, bytes], int]:
        """(topic, key) -> the oldest row of that key still in the outbox, whoever holds it."""
        o = self.outbox.c
        wanted = set(keys)
        rows = session.execute(select(o.topic, o.key, func.min(o.id)).where(o.key.in_({k for _, k in keys}))
                               .group_by(o.topic, o.key))
        return {(topic, key): first for topic, key, first in rows if (topic, key) in wanted}

    def still_unsent(self, session: Session, ids: list[int]) -> set[int]:
        return set(session.execute(select(self.outbox.c.id).where(self.outbox.c.id == any_(_ids(ids)))).scalars())

    def park(self, session: Session, failures: list[tuple[int, str]]) -> None:
        """Rows that can never be published (too large, refused for good) leave the outbox for the parked table,
        with the reason: kept, counted and shown, never retried in a loop."""
        o = self.outbox.c
        locked = self.lock_ids(session, [row_id for row_id, _ in failures])
        for row_id, reason in failures:
            if row_id not in locked:
                continue
            row = session.execute(delete(self.outbox).where(o.id == row_id).returning(*self.outbox.c)).first()
            if row is not None:
                session.execute(insert(self.parked).values(
                    id=row.id, event_id=row.event_id, topic=row.topic, key=row.key, value=row.value,
                    headers=row.headers, created_at=row.created_at, reason=reason[:4000]
                ).on_conflict_do_nothing())

    def store_dead_letters(self, session: Session, rows: list[dict[str, object]]) -> set[uuid.UUID]:
        """Keep dead-lettered messages whole, once per source position; returns the ids that are new (a message
        redelivered after a rebalance was dead-lettered already, and goes to the dead-letter topic once)."""
        if not rows:
            return set()
        statement = insert(self.dead_letters).on_conflict_do_nothing().returning(self.dead_letters.c.id)
        return {row[0] for row in session.execute(statement, rows)}

    def record_offsets(self, session: Session, positions: dict[tuple[str, int], int]) -> None:
        """(topic, partition) -> next offset to process, in the batch's own transaction: the processed position
        that `fulfil status` holds against the end of each partition, whatever the broker's admin API offers."""
        if not positions:
            return
        self._offset_rows.write(session, [{"topic": t, "partition": p, "next_offset": o}
                                          for (t, p), o in sorted(positions.items())], self._record_offsets)

    def positions(self, session: Session) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the next offset this service will process, as record_offsets left it."""
        o = self.offsets.c
        return {(t, p): n for t, p, n in session.execute(select(o.topic, o.partition, o.next_offset))}

    def backlog(self, session: Session) -> Backlog:
        """What is still to send, how old the oldest is by the database's clock, and what is parked."""
        o = self.outbox.c
        rows, oldest = session.execute(select(func.count(), func.extract("epoch", func.now() - func.min(o.created_at)))
                                       ).one()
        parked = session.execute(select(func.count()).select_from(self.parked)).scalar_one()
        return Backlog(int(rows), float(oldest) if oldest is not None else None, int(parked))


def _ids(ids: Iterable[int]) -> BindParameter[Any]:
    """Row ids as one array parameter: one value to send and parse, however many rows."""
    array: Any = ARRAY(BigInteger)
    return bindparam(None, sorted(ids), type_=array, unique=True)


@dataclass(frozen=True, slots=True)
class Backlog:
    rows: int
    oldest_s: float | None
    parked: int
