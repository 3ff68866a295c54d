"""The process every service runs: a Faust app with the consumer (its agent), the publisher (the outbox relay on
Faust's producer) and the scheduler (its timers) attached, /metrics and /readyz on Faust's web server hook, and
Faust's worker for start, signals and graceful stop. Logging stays structlog's: the handler configured at
start-up is the only one Faust's worker installs (services/common/faust_app.py).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.contrib.asgi import serve_asgi
from sqlalchemy.orm import Session, sessionmaker

from services.common import metrics
from services.common.consuming import Consumer
from services.common.faust_app import App, connect, create_app
from services.common.handling import HandlerTable, Scheduled
from services.common.health import Health
from services.common.http import server_options
from services.common.logging import get_logger
from services.common.messaging import Messaging, OutboxRecord
from services.common.processor import Processor
from services.common.publishing import Outbox, ProducerPublisher
from services.common.scheduling import Scheduler
from services.common.settings import Settings
from services.common.signing_keys import Keyring
from services.common.unit_of_work import no_store

log = get_logger(__name__)
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Threads:
    """Database work leaves the event loop: batches and jobs in one pool, the relay and the sweep in another, so
    that a batch waiting out an outage never keeps the outbox from settling."""

    def __init__(self, service: str) -> None:
        self.db = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-db")
        self.outbox = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{service}-outbox")

    async def run_db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.db, fn)

    async def run_outbox(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.outbox, fn)

    def shutdown(self) -> None:
        self.db.shutdown(wait=False, cancel_futures=True)
        self.outbox.shutdown(wait=False, cancel_futures=True)


def faust_send(app: faust.App) -> Callable[[OutboxRecord], Any]:
    async def send(record: OutboxRecord) -> Any:
        return await app.producer.send(record.topic, record.key, record.value, None, None, list(record.headers))
    return send


def build(settings: Settings, *, service: str, sessions: sessionmaker[Session], messaging: Messaging,
          handlers: HandlerTable, jobs: Sequence[Scheduled] = (), clock: Callable[[], datetime] = utc_now,
          keyring: Keyring | None = None, store: Callable[[Session], object] = no_store) -> App:
    app = create_app(service, settings)
    threads = Threads(service)
    health = Health(settings.ready_outbox_max_age_s)
    processor = Processor(service, sessions, messaging, handlers, settings, clock, health=health, keyring=keyring,
                          store=store)
    outbox = Outbox(ProducerPublisher(faust_send(app)), sessions, messaging, threads.run_outbox, settings)
    consumer = Consumer(service, settings, processor, outbox.publish, health, threads.run_db, threads.run_outbox,
                        lambda tp: app.consumer.highwater(tp), lambda: set(app.consumer.assignment()))
    consumer.attach(app)
    Scheduler(service, processor, outbox, health, sessions, messaging, threads.run_db, threads.run_outbox).attach(
        app, jobs, settings.outbox_sweep_interval_s)
    if settings.metrics_port:
        # with every API's limits: this server shares the worker's process and loop
        serve_asgi(app, metrics.endpoints(service, health), host=settings.http_host, port=settings.metrics_port,
                   lifespan="off", **server_options(settings))

    async def started() -> None:
        log.info("worker.started", service=service, pid=os.getpid(), topics=sorted(handlers))

    async def finish(sender: Any, *_: Any, signal: Any = None, **__: Any) -> None:
        """After Faust has waited for the batch in hand: its publishing finishes before the producer stops."""
        log.info("worker.stopping", service=service)
        await consumer.settle()
        threads.shutdown()

    app.task(started)
    connect(app.on_before_shutdown, finish)

    return app


def use_fast_event_loop() -> None:
    """uvloop's (libuv) event loop costs a fraction of asyncio's; where it does not exist (Windows), asyncio's.
    Before the app is built: the app takes the loop current at that time."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.set_event_loop(asyncio.new_event_loop())


def run(app: faust.App, settings: Settings) -> None:
    """Faust's worker: it starts the app, handles SIGTERM and SIGINT, and on the way out the batch in hand and its
    publishing finish, Kafka's offsets are committed and the group is left."""
    # A stream processor allocates many short-lived objects and few cycles: collect the young generation
    # less often, and leave what start-up built (modules, models) out of every collection.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # Faust's start-up spinner writes terminal escapes into log files
    try:
        worker.execute_from_commandline()
    finally:
        log.info("worker.stopped", service=app.conf.id)
