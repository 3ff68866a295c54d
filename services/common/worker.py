"""The worker every service runs: one Kafka consumer for all its topics, batches processed in a thread, what they
committed published through the outbox relay, and its timers. Plain aiokafka, no stream framework.

Why not Faust (what the services ran on before): it wrapped every message in its own objects, tracked and
acknowledged each on the event loop and committed offsets from those acknowledgements; a third of a worker's
CPU went there (bench/warehouse_allocation.py --profile). Here a batch is what the fetcher has buffered,
taken in one call, and the position to resume from is the one PostgreSQL committed with the batch itself
(consumer_offsets): on every assignment the consumer seeks there, so what was processed is never read again
for want of a Kafka commit, and what was not is never skipped. Kafka's committed offsets follow, for tools.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from sqlalchemy.orm import Session, sessionmaker

from services.common import metrics
from services.common.dead_letters import Incoming
from services.common.handling import HandlerTable, Scheduled
from services.common.health import Health
from services.common.logging import get_logger
from services.common.messaging import Backlog, Messaging, OutboxRecord
from services.common.processor import BatchOutcome, Processor, describe
from services.common.relay import Failure, OutboxRelay, publish_in_key_order
from services.common.retry import RetryPolicy, backoff_delay, is_transient, retry_transient
from services.common.settings import Settings
from services.common.topics import message_max_bytes

log = get_logger(__name__)
T = TypeVar("T")
IDLE_POLL_MS = 500  # a fetch returns as soon as records are there; this is only how long an idle one waits
KAFKA_COMMIT_INTERVAL_S = 2.0  # Kafka's offsets are for tools (lag, consumer-group listings); PostgreSQL's rule


def utc_now() -> datetime:
    return datetime.now(UTC)


def group_id(service: str, settings: Settings) -> str:
    """The consumer group: the same name the services' groups always had, so committed offsets carry over."""
    return f"{settings.topic_namespace}fulfil-{service}"


class KafkaPublisher:
    """Publishes outbox records and reports, per record, whether the broker acknowledged it."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(self, records: list[OutboxRecord]) -> list[Failure | None]:
        outcomes: list[Failure | None | asyncio.Future[Any]] = []
        for r in records:
            try:
                outcomes.append(await self.producer.send(r.topic, r.value, key=r.key, headers=list(r.headers)))
            except Exception as exc:
                outcomes.append(classify(exc))
        pending = [o for o in outcomes if isinstance(o, asyncio.Future)]
        await asyncio.gather(*pending, return_exceptions=True)
        return [_outcome(o) if isinstance(o, asyncio.Future) else o for o in outcomes]


def _outcome(future: asyncio.Future[Any]) -> Failure | None:
    error = future.exception()
    return None if error is None else classify(error)


PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError,
             CorruptRecordException, UnsupportedForMessageFormatError, InvalidMessageError, TypeError, ValueError)
"""Errors that trying again cannot cure: the record itself is what the broker or the client refuses."""


def classify(exc: BaseException) -> Failure:
    return Failure(f"{type(exc).__name__}: {exc}"[:1000], isinstance(exc, PERMANENT))


def producer_options(settings: Settings) -> dict[str, Any]:
    """Every record acknowledged by all in-sync replicas; the size limit is the topics' own."""
    return {**settings.aiokafka_options(), "acks": "all", "enable_idempotence": False,
            "max_request_size": message_max_bytes(settings.topics_file), "linger_ms": 1}


def consumer_options(service: str, settings: Settings) -> dict[str, Any]:
    return {
        **settings.aiokafka_options(), "group_id": group_id(service, settings), "enable_auto_commit": False,
        "auto_offset_reset": "earliest", "session_timeout_ms": int(settings.kafka_session_timeout_s * 1000),
        "heartbeat_interval_ms": int(settings.kafka_heartbeat_interval_s * 1000),
        "rebalance_timeout_ms": int(settings.kafka_rebalance_timeout_s * 1000),
        # A batch waiting out a database outage does not poll: the group must not give its partitions away
        # for that (another worker would meet the same outage).
        "max_poll_interval_ms": 3_600_000,
        # What is fetched ahead of the batch in hand, at most: the broker keeps the rest while a batch waits.
        "max_partition_fetch_bytes": 1 << 20, "fetch_max_bytes": 8 << 20,
        "fetch_min_bytes": settings.kafka_fetch_min_bytes, "fetch_max_wait_ms": settings.kafka_fetch_wait_ms,
    }


def in_publish_order(partitions: Sequence[Sequence[ConsumerRecord[Any, Any]]]) -> list[ConsumerRecord[Any, Any]]:
    """One topic's fetched records, partitions merged by the time each record was published, each partition's
    own order kept. Kafka orders records only within a partition: a fetch returns partitions one after another,
    so a pick list published after its orders' reservations (another key, another partition) could be handled
    before them in the same batch, against shipments not yet recorded."""
    return list(heapq.merge(*partitions, key=lambda r: r.timestamp))


class Worker:
    """One service's stream processor. `run()` until SIGTERM or SIGINT; on the way out the batch in hand and its
    publishing finish, Kafka's offsets are committed and the group is left, so a rebalance is quick."""

    def __init__(self, settings: Settings, *, service: str, sessions: sessionmaker[Session], messaging: Messaging,
                 handlers: HandlerTable, jobs: Sequence[Scheduled] = (),
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.settings, self.service, self.sessions, self.messaging = settings, service, sessions, messaging
        self.handlers, self.jobs = handlers, jobs
        self.health = Health(settings.ready_outbox_max_age_s)
        self.processor = Processor(service, sessions, messaging, handlers, settings, clock, health=self.health)
        self.topics = {settings.topic(name): name for name in handlers}
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-db")
        self.outbox_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-outbox")
        self.crash_after_commit = "crash_after_commit" in settings.fault_set
        self.stopping = asyncio.Event()
        self.in_hand = asyncio.Lock()  # held while a batch is processed; a revocation waits for it
        self.in_flight: asyncio.Task[None] | None = None  # the last batch's publishing
        self.done: dict[TopicPartition, int] = {}  # next offset per partition, committed in PostgreSQL
        self.committed: dict[TopicPartition, int] = {}  # ... and in Kafka
        self.positioned = asyncio.Event()  # set once an assignment's partitions are at PostgreSQL's positions
        self.resume: dict[TopicPartition, int] = {}  # PostgreSQL's position at assignment: below it is done
        self.consumer: AIOKafkaConsumer | None = None
        self.publisher: KafkaPublisher | None = None
        self.relay: OutboxRelay | None = None
        self.failed = False

    async def run_db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def run_outbox(self, fn: Callable[[], T]) -> T:
        """The relay's own threads: a batch waiting out an outage must never keep the outbox from settling."""
        return await asyncio.get_running_loop().run_in_executor(self.outbox_executor, fn)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        metrics.serve(self.settings, self.service, self.health)
        producer = AIOKafkaProducer(**producer_options(self.settings))
        await _start(producer.start, "producer", self.stopping)
        self.publisher = KafkaPublisher(producer)
        self.relay = OutboxRelay(self.publisher, self.sessions, self.messaging, self.run_outbox,
                                 self.settings.outbox_sweep_grace_s, RetryPolicy.from_settings(self.settings))
        consumer = self.consumer = AIOKafkaConsumer(**consumer_options(self.service, self.settings))
        consumer.subscribe(topics=sorted(self.topics), listener=_Rebalance(self))
        await _start(consumer.start, "consumer", self.stopping)
        log.info("worker.started", service=self.service, pid=os.getpid(), topics=sorted(self.topics.values()))
        consuming = asyncio.ensure_future(self._consume())
        consuming.add_done_callback(self._consumer_ended)
        tasks = [consuming,
                 asyncio.ensure_future(self._every(self.settings.outbox_sweep_interval_s, self._sweep)),
                 asyncio.ensure_future(self._every(0.5, self._watch_outage)),
                 asyncio.ensure_future(self._every(KAFKA_COMMIT_INTERVAL_S, self._commit_kafka)),
                 *(asyncio.ensure_future(self._every(s.interval_s, partial(self._tick, s))) for s in self.jobs)]
        try:
            await self.stopping.wait()
        finally:
            log.info("worker.stopping", service=self.service)
            async with self.in_hand:  # the batch in hand finishes; none starts after it
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await self._settle()
            await consumer.stop()  # leaves the group
            await producer.stop()
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.outbox_executor.shutdown(wait=False, cancel_futures=True)
            log.info("worker.stopped", service=self.service)

    def _consumer_ended(self, task: asyncio.Task[None]) -> None:
        """Consuming only ends when the worker stops; if it ever ends otherwise, the process must not live on
        looking healthy while it processes nothing: it stops, and exits non-zero for its supervisor to restart."""
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("worker.consumer_failed", error=repr(error), exc_info=error)
            self.failed = True
            self.stopping.set()

    async def _consume(self) -> None:
        """Take what the fetcher has buffered (up to a batch, waiting for the first record when there is none),
        process each topic's records in one transaction, and publish what it committed while the next batch is
        processed; publishes still go out one batch after another, so order per key is kept. Records of a
        partition revoked since they were fetched are left to its new owner (it resumes at PostgreSQL's
        position; were they processed here too, the inbox would drop them, after the work)."""
        assert self.consumer is not None
        attempt = 0
        while True:
            await self.positioned.wait()
            try:
                fetched = await self.consumer.getmany(timeout_ms=IDLE_POLL_MS, max_records=self.settings.batch_size)
            except KafkaError as exc:  # the broker away, a rebalance gone wrong: waited out, like any outage
                attempt += 1
                log.warning("kafka.fetch_failed", attempt=attempt, error=repr(exc))
                await asyncio.sleep(backoff_delay(attempt, 0.5, 5.0))
                continue
            attempt = 0
            if not self.positioned.is_set():  # a rebalance began meanwhile: what to read is its positions' call
                continue
            by_topic: dict[str, list[list[ConsumerRecord[bytes, bytes]]]] = {}
            for tp, records in fetched.items():
                floor = self.resume.get(tp, 0)
                by_topic.setdefault(tp.topic, []).append([r for r in records if r.offset >= floor])
            fetched_batches = [(self.topics.get(topic, topic), [
                Incoming(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                for r in in_publish_order(partitions)]) for topic, partitions in by_topic.items()]
            async with self.in_hand:
                mine = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
                batches = [(name, kept) for name, batch in fetched_batches
                           if (kept := [m for m in batch if (m.topic, m.partition) in mine])]
                if batches:
                    await self._process(batches)

    async def _process(self, batches: list[tuple[str, list[Incoming]]]) -> None:
        """One fetch's share of each topic, in one transaction (each topic's records in publish order)."""
        started = time.perf_counter()
        try:
            outcomes = await self.run_db(partial(self.processor.run_together, [batch for _, batch in batches]))
        except Exception as exc:
            if len(batches) == 1:
                outcomes = [await self._abandon(*batches[0], exc)]
            else:  # one topic's failure must not take the others' records with it
                log.warning("batch.split", topics=[name for name, _ in batches])
                outcomes = [await self._alone(name, batch) for name, batch in batches]
        took = time.perf_counter() - started
        for (topic, batch), outcome in zip(batches, outcomes, strict=True):
            metrics.record_batch(self.service, topic, took, outcome.processed, outcome.duplicates, outcome.ignored,
                                 outcome.dead)
            for m in batch:
                tp = TopicPartition(m.topic, m.partition)
                self.done[tp] = max(self.done.get(tp, 0), m.offset + 1)
            self._record_lag(batch)
        to_publish = [record for outcome in outcomes for record in outcome.to_publish]
        if self.crash_after_commit and to_publish:
            log.error("fault.crash_after_commit", pending=len(to_publish))
            os.kill(os.getpid(), signal.SIGKILL)
        if self.in_flight is not None:
            await self.in_flight
        self.in_flight = asyncio.ensure_future(self._publish(to_publish))
        if any(record.id is None for record in to_publish):
            await self.in_flight
        for (topic, batch), outcome in zip(batches, outcomes, strict=True):
            log.info("batch.done", topic=topic, size=len(batch), seconds=round(took, 4), **describe(outcome))

    async def _alone(self, topic: str, batch: list[Incoming]) -> BatchOutcome:
        try:
            return await self.run_db(partial(self.processor.run, batch))
        except Exception as exc:
            return await self._abandon(topic, batch, exc)

    async def _abandon(self, topic: str, batch: list[Incoming], exc: Exception) -> BatchOutcome:
        """The last resort: the batch is dead-lettered whole, never skipped."""
        log.error("batch.failed", topic=topic, size=len(batch), exc_info=exc)
        return await self.run_db(partial(self.processor.abandon, batch, f"processing failed: {exc!r}"))

    async def _publish(self, records: list[OutboxRecord]) -> None:
        """Committed rows go through the relay (what it cannot send now stays in the outbox for the sweep).
        Records that exist nowhere else (dead letters written without the database, the last resort) are
        retried here until the broker takes them."""
        assert self.relay is not None and self.publisher is not None
        committed = [r for r in records if r.id is not None]
        if committed:
            try:
                await self.relay.publish_committed(committed)
            except Exception as exc:
                log.warning("outbox.publish_deferred", count=len(committed), error=repr(exc))
        direct, attempt = [r for r in records if r.id is None], 0
        while direct:
            report = await publish_in_key_order(self.publisher, direct)
            for record, why in report.parked:
                log.error("dead_letter.unpublishable", topic=record.topic, size=len(record.value), error=why)
            direct = report.unsent
            if direct:
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, 0.2, 5.0))

    async def _settle(self) -> None:
        """Before partitions go elsewhere (or the worker stops): the last batch's records are out, in order,
        and Kafka knows how far PostgreSQL got."""
        if self.in_flight is not None:
            await asyncio.gather(self.in_flight, return_exceptions=True)
        await self._commit_kafka()

    async def _commit_kafka(self) -> None:
        assert self.consumer is not None
        mine = self.consumer.assignment()
        due = {tp: o for tp, o in self.done.items() if tp in mine and self.committed.get(tp) != o}
        if not due:
            return
        try:
            await self.consumer.commit(due)
            self.committed.update(due)
        except KafkaError as exc:  # a rebalance under way, the broker away: PostgreSQL has the positions
            log.info("kafka.commit_skipped", error=repr(exc))

    async def assigned(self, assigned: set[TopicPartition]) -> None:
        """Resume each partition where PostgreSQL says this service got to (the broker's committed offset, or
        the start of the log, where it has no record). The fetcher starts from the broker's offsets before this
        runs (aiokafka refreshes them first): nothing is taken from it until the seeks are done, and records
        below PostgreSQL's position are never processed again, whatever was fetched meanwhile."""
        assert self.consumer is not None
        try:
            positions = await self.run_outbox(self._positions)
        except Exception:  # never seen; the broker's offsets then decide, and the inbox drops what is repeated
            log.exception("partitions.positions_unread")
            positions = {}
        for tp in assigned:
            if (next_offset := positions.get((tp.topic, tp.partition))) is not None:
                self.consumer.seek(tp, next_offset)
                self.done[tp] = self.resume[tp] = next_offset
        self.positioned.set()
        mine: dict[str, list[int]] = {}
        for tp in assigned:
            mine.setdefault(self.topics.get(tp.topic, tp.topic), []).append(tp.partition)
        self.health.partitions_assigned(len(assigned))
        log.info("partitions.assigned", pid=os.getpid(), partitions={t: sorted(p) for t, p in mine.items()})

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        self.positioned.clear()  # nothing more is taken until the next assignment is positioned
        async with self.in_hand:
            await self._settle()
        for tp in revoked:
            self.done.pop(tp, None)
            self.committed.pop(tp, None)
            self.resume.pop(tp, None)

    def _positions(self) -> dict[tuple[str, int], int]:
        """The positions PostgreSQL holds, waiting out an outage: resuming anywhere else could skip or repeat."""
        def read() -> dict[tuple[str, int], int]:
            with self.sessions() as session:
                return self.messaging.positions(session)

        return retry_transient(read, RetryPolicy.from_settings(self.settings).forever())

    async def _every(self, interval_s: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer.failed", work=getattr(work, "__name__", repr(work)))

    async def _tick(self, scheduled: Scheduled) -> None:
        started = time.perf_counter()
        try:
            records = await self.run_db(lambda: self.processor.run_job(scheduled.job))
        except Exception:
            log.exception("job.failed", job=scheduled.name)
            return
        finally:
            metrics.JOB_SECONDS.labels(self.service, scheduled.name).observe(time.perf_counter() - started)
        await self._publish(records)

    async def _watch_outage(self) -> None:
        """While the database is away, consumption stands still: the batch that met the outage waits for it in
        its thread, its offsets are not committed, nothing more is taken from the fetcher, which stops once its
        buffer is full (the broker keeps the rest). Reported here and on /readyz."""
        if self.health.outage and not self.health.paused:
            self.health.set_paused(True)
            log.warning("consumer.paused", reason=self.health.database_error)
        elif self.health.paused and not self.health.outage:
            self.health.set_paused(False)
            log.info("consumer.resumed")

    async def _sweep(self) -> None:
        assert self.relay is not None
        try:
            await self.relay.sweep()
            backlog = await self.run_outbox(lambda: _backlog(self.sessions, self.messaging))
        except Exception as exc:
            log.warning("outbox.sweep_failed", error=repr(exc).splitlines()[0])
            if is_transient(exc):  # an idle worker learns of an outage here
                self.health.database_down(str(exc).splitlines()[0])
            return
        self.health.database_up()
        self.health.outbox(backlog.rows, backlog.oldest_s, backlog.parked)
        metrics.record_backlog(self.service, backlog.rows, backlog.oldest_s, backlog.parked)

    def _record_lag(self, batch: Sequence[Incoming]) -> None:
        assert self.consumer is not None
        last: dict[TopicPartition, int] = {}
        for m in batch:
            last[TopicPartition(m.topic, m.partition)] = m.offset
        for tp, offset in last.items():
            try:
                highwater = self.consumer.highwater(tp)
            except Exception:  # revoked meanwhile, or no fetch position yet: nothing to say
                continue
            if highwater is not None:
                metrics.LAG.labels(self.service, self.topics.get(tp.topic, tp.topic), str(tp.partition)).set(
                    max(0, highwater - offset - 1))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.worker.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.worker.assigned(assigned)


async def _start(start: Callable[[], Awaitable[None]], what: str, stopping: asyncio.Event) -> None:
    """A broker that is not there yet is waited for, like any outage."""
    attempt = 0
    while True:
        try:
            await start()
            return
        except KafkaError as exc:
            if stopping.is_set():
                raise
            attempt += 1
            log.warning("kafka.waiting", client=what, attempt=attempt, error=repr(exc))
            await asyncio.sleep(backoff_delay(attempt, 0.5, 5.0))


def _backlog(sessions: sessionmaker[Session], messaging: Messaging) -> Backlog:
    with sessions() as session:
        return messaging.backlog(session)


def use_fast_event_loop() -> None:
    """uvloop's (libuv) event loop costs a fraction of asyncio's; where it does not exist (Windows), asyncio's."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run(worker: Worker) -> None:
    # A stream processor allocates many short-lived objects and few cycles: collect the young generation
    # less often, and leave what start-up built (modules, models) out of every collection.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    use_fast_event_loop()
    asyncio.run(worker.run())
    if worker.failed:
        raise SystemExit(1)
