"""Effectively-once processing of a batch of messages in one database transaction.

decode (bad bytes -> dead letter) -> claim the event_id in the inbox (duplicate -> skip) -> run the
handler -> write its events to the outbox -> record how far each partition got -> commit. Synchronous on
purpose: it runs in a worker thread, off the event loop.

Only deterministic failures dead-letter: bytes that do not decode, events that break the contract, a handler
error that repeats when the event is tried again on its own. Infrastructure is never the event's fault: a
database outage of any length retries the whole batch with capped back-off for as long as it lasts (the
worker reports itself not ready and its consumer pauses meanwhile), then carries on where it was.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

from schemas.base import Payload
from schemas.envelope import Event
from schemas.registry import SHOP_BOUND, DecodeError, decode_wanted, event_times
from services.common.dead_letters import DeadLetter, Incoming, record_size
from services.common.errors import describe_error
from services.common.handling import Batched, Context, Emit, Handler, HandlerTable, Job
from services.common.health import Health
from services.common.logging import get_logger
from services.common.messaging import Messaging, OutboxRecord
from services.common.retry import RetryPolicy, is_transient, retry_transient
from services.common.settings import Settings
from services.common.signing_keys import Keyring, refusal, signers
from services.common.topics import message_max_bytes
from services.common.unit_of_work import UnitOfWork

log = get_logger(__name__)
ISOLATED_TRIES = 2
"""How often an event whose handler failed in its batch is tried again on its own before it is dead-lettered."""


class TooLargeToPublish(Exception):
    """A handler's answer would exceed the broker's size limit: the cause is dead-lettered (its state change rolls
    back with it) rather than committing something that can never go out."""


AnyEvent = Event[Payload]
AnyHandler = Handler | Batched
Decoded = tuple[list[tuple[Incoming, AnyEvent]], list[DeadLetter]]
"""A batch's events, and its messages refused before any handler saw them."""


def invoke(handler: AnyHandler, uow: UnitOfWork[object], events: Sequence[AnyEvent],
           ctx: Context[Settings]) -> list[Emit]:
    """Run the handler on its events; what it published. A handler that fails publishes nothing: what it had
    published is dropped with its savepoint."""
    try:
        if isinstance(handler, Batched):
            handler.handle(uow, events, ctx)
        else:
            for event in events:
                handler(uow, event, ctx)
    finally:
        emitted = uow.collect_new_events()
    return emitted


def _runs(items: list[tuple[AnyEvent, AnyHandler]]) -> list[tuple[AnyHandler, list[AnyEvent]]]:
    """Consecutive events with the same handler, in order (order within a partition is kept)."""
    runs: list[tuple[AnyHandler, list[AnyEvent]]] = []
    for event, handler in items:
        if runs and runs[-1][0] is handler:
            runs[-1][1].append(event)
        else:
            runs.append((handler, [event]))
    return runs


@dataclass
class BatchOutcome:
    to_publish: list[OutboxRecord] = field(default_factory=list)
    processed: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead: int = 0


class Processor:
    def __init__(self, service: str, sessions: sessionmaker[Session], messaging: Messaging,
                 handlers: HandlerTable, settings: Settings, clock: Callable[[], datetime],
                 sleep: Callable[[float], None] = time.sleep, health: Health | None = None,
                 keyring: Keyring | None = None, *, store: Callable[[Session], object]) -> None:
        """`store` makes the service's store on a transaction's session (Service.store)."""
        self.health = health or Health(settings.ready_outbox_max_age_s)
        self.max_message_bytes = message_max_bytes(settings.topics_file)
        self.service = service
        self.sessions = sessions
        self.messaging = messaging
        self.handlers = handlers
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.retry = RetryPolicy.from_settings(settings)
        self.freeze_in_transaction = "freeze_in_transaction" in settings.fault_set
        self.keyring = keyring
        self.store = store

    def decode(self, messages: list[Incoming]) -> Decoded:
        """Split messages into events and dead letters for the ones that do not decode. Event[Payload] types this
        service does not handle are skipped before validation (they are someone else's to judge)."""
        good: list[tuple[Incoming, Event[Payload]]] = []
        dead: list[DeadLetter] = []
        latest = self.clock() + timedelta(seconds=self.settings.max_clock_skew_s)
        for message in messages:
            topic = self.settings.logical_topic(message.topic)
            try:
                event = decode_wanted(topic, message.value, self.handlers.get(topic, {}).keys())
                if event is not None:
                    refuse_future(event, latest, self.settings.max_clock_skew_s)
                    good.append((message, event))
            except DecodeError as exc:
                log.warning("message.dead_lettered", topic=message.topic, partition=message.partition,
                            offset=message.offset, error=str(exc)[:500])
                dead.append(DeadLetter(message, str(exc), self.service, self.clock()))
        return good, dead

    def run(self, messages: list[Incoming]) -> BatchOutcome:
        """Process a batch, waiting out database outages; returns what to publish now that it is committed."""
        return self.run_together([messages])[0]

    def run_together(self, batches: Sequence[list[Incoming]]) -> list[BatchOutcome]:
        """Several batches (one fetch's share of each topic) in one transaction, each with its own outcome: a
        worker reading two topics pays once, not per topic, for what every transaction costs (the session, the
        inbox, outbox and offset statements, the commit, and the relay's delete once the records are out).
        Waits out database outages."""
        decoded = [self.decode(messages) for messages in batches]
        attempt, isolate = 0, False
        while True:
            try:
                outcomes = self._transaction(batches, decoded, isolate)
            except Exception as exc:
                if is_transient(exc):
                    attempt += 1
                    error = describe_error(exc)
                    self.health.database_down(error)
                    delay = self.retry.delay(attempt)
                    log.warning("database.retry", attempt=attempt, delay_s=delay, error=error)
                    self.sleep(delay)
                elif not isolate:
                    log.warning("batch.isolating", error=describe_error(exc)[:500])
                    isolate = True
                else:
                    raise
            else:
                if attempt:
                    log.info("database.recovered", attempts=attempt)
                self.health.database_up()
                return outcomes

    def _transaction(self, batches: Sequence[list[Incoming]], decoded: Sequence[Decoded],
                     isolate: bool) -> list[BatchOutcome]:
        now = self.clock()
        ctx = Context(now=now, settings=self.settings, service=self.service)
        records: list[list[OutboxRecord]] = [[] for _ in batches]
        with self.unit_of_work(now) as uow:
            decoded = self._authenticate(uow, decoded, now)
            outcomes = [BatchOutcome(dead=len(refused)) for _, refused in decoded]
            dead: list[list[DeadLetter]] = [list(refused) for _, refused in decoded]
            for i, (good, _) in enumerate(decoded):
                handled = [(m, e, h) for m, e in good if (h := self._handler_for(m, e)) is not None]
                outcomes[i].ignored = len(good) - len(handled)
                if isolate:
                    self._handle_one_by_one(uow, handled, ctx, records[i], dead[i], outcomes[i])
                else:
                    self._handle_batch(uow, handled, ctx, records[i], outcomes[i])
            new = self.messaging.store_dead_letters(uow.session, [d.row() for group in dead for d in group])
            for i, (_, refused) in enumerate(decoded):
                records[i][:0] = [d.record(self.max_message_bytes) for d in dead[i] if d.id in new]
                again = sum(d.id not in new for d in refused)  # redelivered after a rebalance: refused already
                outcomes[i].duplicates, outcomes[i].dead = outcomes[i].duplicates + again, outcomes[i].dead - again
            enqueued = {r.event_id: r for r in self.messaging.enqueue(uow.session, [r for g in records for r in g])}
            for outcome, group in zip(outcomes, records, strict=True):
                outcome.to_publish = [enqueued[r.event_id] for r in group if r.event_id in enqueued]
            self.messaging.record_offsets(uow.session, positions([m for batch in batches for m in batch]))
            if self.freeze_in_transaction and any(o.processed for o in outcomes):
                self.freeze_in_transaction = False
                log.error("fault.freeze_in_transaction")
                os.kill(os.getpid(), signal.SIGSTOP)  # rows written and locked, nothing committed yet
            uow.commit()
        return outcomes

    def unit_of_work(self, now: datetime, source: str | None = None) -> UnitOfWork[object]:
        return UnitOfWork(self.sessions, self.store, source=source or f"service:{self.service}", now=now)

    def _authenticate(self, uow: UnitOfWork[object], decoded: Sequence[Decoded], now: datetime) -> list[Decoded]:
        """Move every event on a shop's topic that a live key of its shop did not sign to the refused: the
        shop's identity is the key that signed, never what the event says. Keys are read in this transaction,
        so a key revoked before it began signs nothing here."""
        bound = [m for good, _ in decoded for m, _ in good if self.settings.logical_topic(m.topic) in SHOP_BOUND]
        if not bound:
            return list(decoded)
        keys = self.keyring.live(uow.session, signers(bound)) if self.keyring is not None else {}
        checked: list[Decoded] = []
        for good, refused in decoded:
            kept, more = [], list(refused)
            for message, event in good:
                topic = self.settings.logical_topic(message.topic)
                why = None if topic not in SHOP_BOUND else refusal(
                    topic, message, str(getattr(event.payload, SHOP_BOUND[topic])), keys)
                if why is None:
                    kept.append((message, event))
                else:
                    log.warning("message.dead_lettered", topic=message.topic, partition=message.partition,
                                offset=message.offset, event_id=str(event.event_id), error=why)
                    more.append(DeadLetter(message, why, self.service, now))
            checked.append((kept, more))
        return checked

    def _handler_for(self, message: Incoming, event: Event[Payload]) -> Handler | Batched | None:
        return self.handlers.get(self.settings.logical_topic(message.topic), {}).get(event.envelope.event_type)

    def _handle_batch(self, uow: UnitOfWork[object], handled: list[tuple[Incoming, Event[Payload], Handler | Batched]],
                      ctx: Context[Settings], records: list[OutboxRecord], outcome: BatchOutcome) -> None:
        """Claim every event id in one statement, then hand runs of same-type events to their handler."""
        claims: dict[UUID, dict[str, object]] = {}
        for message, event, _ in handled:
            claims.setdefault(event.event_id, {
                "event_id": event.event_id, "event_type": event.envelope.event_type, "topic": message.topic,
                "partition": message.partition, "offset": message.offset})
        unclaimed = self.messaging.claim_many(uow.session, list(claims.values()))
        fresh: list[tuple[Event[Payload], Handler | Batched]] = []
        for _, event, handler in handled:
            if event.event_id in unclaimed:
                unclaimed.discard(event.event_id)  # a second copy in the same batch is a duplicate too
                fresh.append((event, handler))
            else:
                outcome.duplicates += 1
                log.info("event.duplicate", event_id=str(event.event_id),
                         correlation_id=event.envelope.correlation_id)
        for handler, run in _runs(fresh):
            self._emit(invoke(handler, uow, run, ctx), records)
            for event in run:
                log.debug("event.processed", event_id=str(event.event_id), event_type=event.envelope.event_type,
                         correlation_id=event.envelope.correlation_id)
            outcome.processed += len(run)

    def _handle_one_by_one(self, uow: UnitOfWork[object],
                           handled: list[tuple[Incoming, Event[Payload], Handler | Batched]],
                           ctx: Context[Settings], records: list[OutboxRecord], dead: list[DeadLetter],
                           outcome: BatchOutcome) -> None:
        """Each event in its own savepoint, tried again when it fails, so that only one whose failure repeats is
        dead-lettered and the rest commit."""
        for message, event, handler in handled:
            for attempt in range(1, ISOLATED_TRIES + 1):
                savepoint = uow.session.begin_nested()
                emitted: list[OutboxRecord] = []
                try:
                    outcome.processed += self._handle(uow, message, event, handler, ctx, emitted, outcome)
                    savepoint.commit()
                    records.extend(emitted)
                    break
                except Exception as exc:
                    savepoint.rollback()
                    if is_transient(exc):
                        raise
                    if attempt == ISOLATED_TRIES:
                        dead.append(self._dead_letter_in_place(uow, message, event, exc, ctx.now))
                        outcome.dead += 1

    def _handle(self, uow: UnitOfWork[object], message: Incoming, event: AnyEvent, handler: AnyHandler,
                ctx: Context[Settings],
                records: list[OutboxRecord], outcome: BatchOutcome) -> bool:
        """One event on its own: the isolating path, after a batch failed for a reason that was not transient."""
        envelope = event.envelope
        if not self.messaging.claim(uow.session, envelope.event_id, envelope.event_type, message.topic,
                                    message.partition, message.offset):
            outcome.duplicates += 1
            log.info("event.duplicate", event_id=str(envelope.event_id), correlation_id=envelope.correlation_id)
            return False
        self._emit(invoke(handler, uow, [event], ctx), records)
        log.debug("event.processed", event_id=str(envelope.event_id), event_type=envelope.event_type,
                 correlation_id=envelope.correlation_id)
        return True

    def _emit(self, emitted: list[Emit], records: list[OutboxRecord]) -> None:
        for emit in emitted:
            record = emit.record(self.settings.topic(emit.topic))
            if len(record.value) + len(record.key or b"") + 1024 > self.max_message_bytes and (
                    size := record_size(record.key, record.value, record.headers)) > self.max_message_bytes:
                raise TooLargeToPublish(f"{emit.event.envelope.event_type} would be {size} bytes on {emit.topic}; "
                                        f"the broker takes at most {self.max_message_bytes}")
            records.append(record)

    def _dead_letter_in_place(self, uow: UnitOfWork[object], message: Incoming, event: Event[Payload], exc: Exception,
                              now: datetime) -> DeadLetter:
        envelope = event.envelope
        reason = f"handler failed: {describe_error(exc)}\n{''.join(traceback.format_tb(exc.__traceback__)[-2:])}"
        log.error("event.dead_lettered", event_id=str(envelope.event_id), correlation_id=envelope.correlation_id,
                  error=describe_error(exc)[:500])
        self.messaging.claim(uow.session, envelope.event_id, envelope.event_type, message.topic,
                             message.partition, message.offset)
        return DeadLetter(message, reason, self.service, now)

    def run_job(self, job: Job, source: str | None = None) -> list[OutboxRecord]:
        """Run a timer's job (or a person's action: `source` names who, e.g. a device) in one transaction, retrying
        transient database errors; returns what to publish. Any other error propagates and commits nothing (a
        timer logs it and the next tick tries again)."""
        def once() -> list[OutboxRecord]:
            now = self.clock()
            with self.unit_of_work(now, source) as uow:
                records: list[OutboxRecord] = []
                job(uow, Context(now=now, settings=self.settings, service=self.service))
                self._emit(uow.collect_new_events(), records)
                published = self.messaging.enqueue(uow.session, records)
                uow.commit()
                return published

        return retry_transient(once, self.retry, self.sleep)

    def positions(self) -> dict[tuple[str, int], int]:
        """Where each partition resumes, as the batches committed it; a database outage is waited out for as long
        as the retry policy allows (a rebalance cannot wait for ever), then the error propagates."""
        def read() -> dict[tuple[str, int], int]:
            with self.sessions() as session:
                return self.messaging.positions(session)

        return retry_transient(read, self.retry, self.sleep)

    def abandon(self, messages: list[Incoming], reason: str) -> BatchOutcome:
        """Dead-letter a whole batch: the last resort when processing failed in a way no retry or isolation
        could handle (a batch is never skipped; this keeps it). Through the database when it
        answers, so the messages are kept whole like every dead letter; published directly when it does not."""
        log.error("batch.dead_lettered", size=len(messages), error=reason)
        now = self.clock()
        dead = [DeadLetter(message, reason, self.service, now) for message in messages]
        try:
            with self.unit_of_work(self.clock()) as uow:
                new = self.messaging.store_dead_letters(uow.session, [d.row() for d in dead])
                records = self.messaging.enqueue(
                    uow.session, [d.record(self.max_message_bytes) for d in dead if d.id in new])
                self.messaging.record_offsets(uow.session, positions(messages))
                uow.commit()
        except Exception:
            log.exception("batch.dead_lettered_without_database")
            records = [d.record(self.max_message_bytes) for d in dead]
        return BatchOutcome(to_publish=records, dead=len(dead))


def refuse_future(event: Event[Payload], latest: datetime, allowance_s: float) -> None:
    """Dead-letter, never apply, an event dated ahead of this worker's clock by more than the allowance: status
    rules keep the newest news, so a scan from 2099 would make every real one look old."""
    for field_name, at in event_times(event):
        if at > latest:
            raise DecodeError(f"{field_name} {at.isoformat()} is ahead of this worker's clock by more than the "
                              f"{allowance_s:.0f} s allowed (FULFIL_MAX_CLOCK_SKEW_S)")


def positions(messages: Sequence[Incoming]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> the offset after the last message of the batch."""
    after: dict[tuple[str, int], int] = {}
    for m in messages:
        after[(m.topic, m.partition)] = max(after.get((m.topic, m.partition), 0), m.offset + 1)
    return after


def describe(outcome: BatchOutcome) -> dict[str, Any]:
    return {"processed": outcome.processed, "duplicates": outcome.duplicates, "ignored": outcome.ignored,
            "dead": outcome.dead, "published": len(outcome.to_publish)}
