"""The single Faust app factory every service uses, and the wiring of topics to the processor.

Agents stay thin: take a batch, run the processor in a thread, publish what it committed.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import faust
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from faust.exceptions import ProducerSendError
from faust.types import EventT
from sqlalchemy.orm import Session, sessionmaker

from services.common import metrics
from services.common.dead_letters import Incoming
from services.common.handling import HandlerTable, Scheduled
from services.common.health import Health
from services.common.logging import get_logger
from services.common.messaging import Backlog, Messaging, OutboxRecord
from services.common.processor import Processor, describe
from services.common.relay import Failure, OutboxRelay, publish_in_key_order
from services.common.retry import RetryPolicy, backoff_delay, is_transient
from services.common.settings import Settings
from services.common.topics import load_spec, message_max_bytes

log = get_logger(__name__)
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(service: str, settings: Settings) -> faust.App:
    credentials: Any = None
    context = settings.kafka_ssl_context()
    if settings.kafka_security_protocol.startswith("SASL"):
        assert settings.kafka_sasl_password is not None
        credentials = faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism, ssl_context=context)
    elif context is not None:
        credentials = faust.SSLCredentials(context)
    return faust.App(
        f"{settings.topic_namespace}fulfil-{service}",
        broker=[f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=credentials,
        store="memory://",
        autodiscover=False,
        web_enabled=False,  # HTTP is FastAPI's (services/common/http.py), not Faust's aiohttp
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_s,
        broker_rebalance_timeout=settings.kafka_rebalance_timeout_s,
        topic_partitions=settings.kafka_topic_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=message_max_bytes(settings.topics_file),
        stream_buffer_maxsize=2 * settings.batch_size,  # what is fetched ahead of the batch in hand, at most
    )


class FaustPublisher:
    """Publishes outbox records through the app's own producer and reports, per record, whether the broker
    acknowledged it."""

    def __init__(self, app: faust.App) -> None:
        self.app = app

    async def send(self, records: list[OutboxRecord]) -> list[Failure | None]:
        producer = self.app.producer
        outcomes: list[Failure | None | asyncio.Future[Any]] = []
        for r in records:
            try:
                outcomes.append(asyncio.ensure_future(
                    await producer.send(r.topic, r.key, r.value, None, None, list(r.headers))))
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
    cause = exc.__cause__ if isinstance(exc, ProducerSendError) and exc.__cause__ is not None else exc
    return Failure(f"{type(cause).__name__}: {cause}"[:1000], isinstance(cause, PERMANENT))


def _incoming(event: EventT[Any]) -> Incoming:
    message = event.message
    headers: Any = message.headers or ()
    items = headers.items() if isinstance(headers, dict) else headers
    pairs = tuple((str(k), bytes(v)) for k, v in items)
    return Incoming(message.topic, message.partition, message.offset, message.key, message.value, pairs)


def wire(app: faust.App, settings: Settings, *, service: str, sessions: sessionmaker[Session],
         messaging: Messaging, handlers: HandlerTable, jobs: Sequence[Scheduled] = (),
         clock: Callable[[], datetime] = utc_now) -> Processor:
    """Register one agent per consumed topic, a timer per scheduled job, and the outbox sweep timer."""
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-db")
    outbox_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-outbox")

    async def run_sync(fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    async def run_outbox(fn: Callable[[], T]) -> T:
        """The relay's own threads: a batch waiting out an outage must never keep the outbox from settling."""
        return await asyncio.get_running_loop().run_in_executor(outbox_executor, fn)

    health = Health(settings.ready_outbox_max_age_s)
    processor = Processor(service, sessions, messaging, handlers, settings, clock, health=health)
    metrics.serve(settings, service, health)
    publisher = FaustPublisher(app)
    relay = OutboxRelay(publisher, sessions, messaging, run_outbox, settings.outbox_sweep_grace_s,
                        RetryPolicy.from_settings(settings))
    crash_after_commit = "crash_after_commit" in settings.fault_set

    async def publish(records: list[OutboxRecord]) -> None:
        """Committed rows go through the relay (what it cannot send now stays in the outbox for the sweep).
        Records that exist nowhere else (dead letters written without the database, the last resort) are
        retried here until the broker takes them."""
        committed = [r for r in records if r.id is not None]
        if committed:
            try:
                await relay.publish_committed(committed)
            except Exception as exc:
                log.warning("outbox.publish_deferred", count=len(committed), error=repr(exc))
        direct, attempt = [r for r in records if r.id is None], 0
        while direct:
            report = await publish_in_key_order(publisher, direct)
            for record, why in report.parked:
                log.error("dead_letter.unpublishable", topic=record.topic, size=len(record.value), error=why)
            direct = report.unsent
            if direct:
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, 0.2, 5.0))

    def make_agent(topic_name: str) -> Callable[[Any], Any]:
        async def consume(stream: Any) -> None:
            """Publishing a committed batch (broker acks, then deleting its outbox rows) overlaps with processing
            the next one; publishes still go out one batch after another, so order per key is kept. Records
            that exist nowhere else (dead letters written without the database) are published before moving on."""
            in_flight: asyncio.Task[None] | None = None
            async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
                batch: Sequence[Incoming] = [_incoming(e) for e in events]
                started = time.perf_counter()
                try:
                    outcome = await run_sync(partial(processor.run, list(batch)))
                except Exception as exc:  # never let an exception reach Faust: it would ack the batch
                    log.exception("batch.failed", topic=topic_name, size=len(batch))
                    reason = f"processing failed: {exc!r}"
                    outcome = await run_sync(partial(processor.abandon, list(batch), reason))
                metrics.record_batch(service, topic_name, time.perf_counter() - started, outcome.processed,
                                     outcome.duplicates, outcome.ignored, outcome.dead)
                _record_lag(app, service, topic_name, events)
                if crash_after_commit and outcome.to_publish:
                    log.error("fault.crash_after_commit", pending=len(outcome.to_publish))
                    os.kill(os.getpid(), signal.SIGKILL)
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(publish(outcome.to_publish))
                if any(record.id is None for record in outcome.to_publish):
                    await in_flight
                log.info("batch.done", topic=topic_name, **describe(outcome))
        consume.__name__ = f"consume_{topic_name.replace('.', '_')}"
        return consume

    def make_timer(scheduled: Scheduled) -> Callable[[], Any]:
        async def tick() -> None:
            started = time.perf_counter()
            try:
                records = await run_sync(lambda: processor.run_job(scheduled.job))
            except Exception:
                log.exception("job.failed", job=scheduled.name)
                return
            finally:
                metrics.JOB_SECONDS.labels(service, scheduled.name).observe(time.perf_counter() - started)
            await publish(records)
        tick.__name__ = f"tick_{scheduled.name}"
        return tick

    spec = load_spec(settings.topics_file)
    for topic_name in handlers:
        topic = app.topic(settings.topic(topic_name), key_serializer="raw", value_serializer="raw",
                          partitions=spec[topic_name].partitions)
        app.agent(topic, name=f"{service}.{topic_name}")(make_agent(topic_name))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(sender: Any, assigned: set[Any], **_: Any) -> None:
        by_topic: dict[str, list[int]] = {}
        for tp in assigned:
            by_topic.setdefault(settings.logical_topic(tp.topic), []).append(tp.partition)
        mine = {t: sorted(p) for t, p in by_topic.items() if t in handlers}
        health.partitions_assigned(sum(len(p) for p in mine.values()))
        log.info("partitions.assigned", pid=os.getpid(), partitions=mine)

    @app.timer(0.5, name=f"{service}.outage_watch")
    async def watch_outage() -> None:
        """While the database is away, consumption stands still: the batch that met the outage waits for it in
        its thread, its offsets are not committed, and the fetcher stops once the stream's buffer is full (the
        broker keeps the rest). Partitions are not paused through Faust: it drops records fetched for a
        partition paused meanwhile, past its fetch position. Reported here and on /readyz."""
        if health.outage and not health.paused:
            health.set_paused(True)
            log.warning("consumer.paused", reason=health.database_error)
        elif health.paused and not health.outage:
            health.set_paused(False)
            log.info("consumer.resumed")

    for scheduled in jobs:
        app.timer(scheduled.interval_s, name=f"{service}.{scheduled.name}")(make_timer(scheduled))

    @app.timer(settings.outbox_sweep_interval_s, name=f"{service}.outbox_sweep")
    async def sweep() -> None:
        try:
            await relay.sweep()
            backlog = await run_outbox(lambda: _backlog(sessions, messaging))
        except Exception as exc:
            log.warning("outbox.sweep_failed", error=repr(exc).splitlines()[0])
            if is_transient(exc):  # an idle worker learns of an outage here
                health.database_down(str(exc).splitlines()[0])
            return
        health.database_up()
        health.outbox(backlog.rows, backlog.oldest_s, backlog.parked)
        metrics.record_backlog(service, backlog.rows, backlog.oldest_s, backlog.parked)

    return processor


def _backlog(sessions: sessionmaker[Session], messaging: Messaging) -> Backlog:
    with sessions() as session:
        return messaging.backlog(session)


def _record_lag(app: faust.App, service: str, topic: str, events: Sequence[Any]) -> None:
    last: dict[Any, int] = {}
    for event in events:
        last[event.message.tp] = event.message.offset
    for tp, offset in last.items():
        try:
            highwater = app.consumer.highwater(tp)
        except Exception:  # no fetch position yet: nothing to say
            continue
        if highwater is not None:
            metrics.LAG.labels(service, topic, str(tp.partition)).set(max(0, highwater - offset - 1))


class Worker(faust.Worker):
    """Faust's worker, minus its own logging set-up: structlog is configured once, by us."""

    def _setup_logging(self) -> None:
        pass


def use_fast_event_loop() -> None:
    """Every message travels through Faust on the event loop; uvloop's (libuv) costs a fraction of asyncio's.
    Must run before the app is built: the app takes the loop current at that time. Where uvloop does not exist
    (Windows), asyncio's own loop is used."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())


def run(app: faust.App, settings: Settings) -> None:
    # A stream processor allocates many short-lived objects and few cycles: collect the young generation
    # less often, and leave what start-up built (modules, models) out of every collection.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    worker = Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # Faust's start-up spinner writes terminal escapes into log files
    worker.execute_from_commandline()
