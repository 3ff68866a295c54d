"""Every service's Faust app: its configuration, what it turns off, and where it resumes.

What Faust gives the services: the consumer group and its rebalances, agents that take the service's topics in
batches from Faust's streams, timers, the producer, the worker's start, signals and graceful stop, and the web
server that /metrics and /readyz are served from. What it does not give stays ours: the inbox, the outbox, dead
letters, and the positions PostgreSQL commits with each batch.

Where a worker resumes is PostgreSQL's call, not Kafka's: Faust seeks every assigned partition to Kafka's
committed offset (on every assignment, and again whenever a fetch returns while flow is stopped), and those lag
what PostgreSQL committed by up to a commit interval, or can be anywhere after an operator's mistake. The
`fulfil` transport is Faust's own Kafka transport whose consumer, after Faust's seek, seeks each partition to
the position PostgreSQL holds (transports are a Faust extension point: the `faust.transports` entry point in
pyproject.toml). Faust's own commits follow acknowledged batches and are for tools.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from services.common.kafka_io import PUBLISH_TIMEOUT_S
from services.common.settings import Settings
from services.common.topics import message_max_bytes

PositionsReader = Callable[[set[TP]], Awaitable[Mapping[TP, int]]]
"""The next offset to read per partition, as PostgreSQL holds it; partitions it has no record of are left out."""


class App(faust.App):
    """A Faust app that knows where PostgreSQL says each partition resumes (set by the consuming agent)."""

    positions: PositionsReader | None = None


class ResumingConsumer(faust_aiokafka.Consumer):
    """Faust's consumer, resuming where PostgreSQL says: after Faust's own seek to Kafka's committed offsets."""

    async def perform_seek(self) -> None:
        await super().perform_seek()
        reader = getattr(self.app, "positions", None)
        if reader is None:
            return
        for tp, offset in (await reader(set(self.assignment()))).items():
            await self.seek(tp, offset)


class Transport(faust_aiokafka.Transport):
    """Faust's Kafka transport (aiokafka) with the resuming consumer; the broker URL scheme is `fulfil://`."""

    Consumer = ResumingConsumer


class QuietMonitor(Monitor):
    """Faust's monitor keeps running statistics of every message and stream event (timestamps, deques, per-partition
    counters) for Faust's own web pages, which are not served here: Prometheus gets our metrics. The per-event
    hooks do nothing; the rest of the monitor (commit and send timings, rebalances) is Faust's."""

    def on_message_in(self, tp: TP, offset: int, message: Any) -> None:
        pass

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        return None

    def on_stream_event_out(self, tp: TP, offset: int, stream: Any, event: Any,
                            state: dict[str, Any] | None = None) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Any) -> None:
        pass

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        pass


SignalHandler = Callable[..., Awaitable[None]]


def connect(signal: Any, handler: SignalHandler) -> None:
    """Connect a handler to one of the app's signals. mode's own type for a handler admits no function at all
    under mypy (its `signal` keyword is a string forward reference it never resolves), hence Any here, once."""
    signal.connect(handler)


def credentials(settings: Settings) -> Any:
    context = settings.kafka_ssl_context()
    if settings.kafka_security_protocol.startswith("SASL"):
        assert settings.kafka_sasl_password is not None
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username, password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism, ssl_context=context)
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def group_id(service: str, settings: Settings) -> str:
    """The app's id, which is its consumer group: the same name the services' groups always had."""
    return f"{settings.topic_namespace}fulfil-{service}"


def datadir() -> Path:
    """Where Faust makes its data directory on start (for tables' stores, of which there are none): one empty
    owner-only tree per user, rather than Faust's default, a `<group>-data` tree in whatever directory a worker
    starts in."""
    path = Path(tempfile.gettempdir()) / f"fulfil-faust-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def create_app(service: str, settings: Settings) -> App:
    root = logging.getLogger()
    return App(
        group_id(service, settings),
        broker=[f"fulfil://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        broker_credentials=credentials(settings),
        autodiscover=False,
        # Faust's worker replaces the root logger's handlers: it gets back the one structlog set up, alone.
        logging_config={"version": 1, "disable_existing_loggers": False, "root": {"level": root.level,
                                                                                   "handlers": []}},
        loghandlers=list(root.handlers),
        store="memory://",  # no tables: state lives in PostgreSQL
        datadir=datadir(),
        topic_allow_declare=False,  # topics are `fulfil topics apply`'s (deploy/topics.yaml), never Faust's guess
        topic_disable_leader=True,  # no leader election topic: no job here runs on one worker only
        Monitor=QuietMonitor,
        web_enabled=bool(settings.metrics_port),  # /metrics and /readyz (worker.py serves them, host and port)
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_s,
        broker_rebalance_timeout=settings.kafka_rebalance_timeout_s,
        # A batch waiting out a database outage does not poll: the group must not give its partitions away for
        # that (another worker would meet the same outage).
        broker_max_poll_interval=3600.0,
        broker_max_poll_records=settings.batch_size,
        broker_commit_interval=2.0,  # Kafka's offsets are for tools (lag, consumer-group listings)
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=1 << 20,
        producer_acks=-1,
        producer_linger_ms=1,
        producer_request_timeout=PUBLISH_TIMEOUT_S,
        producer_max_request_size=message_max_bytes(settings.topics_file),
        # What is fetched ahead of the batch in hand, at most; the broker keeps the rest while a batch waits.
        stream_buffer_maxsize=2 * settings.batch_size,
        stream_wait_empty=True,  # a revocation and a stop wait for the batch in hand
    )
