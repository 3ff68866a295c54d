"""The publisher: the one way outbox rows reach Kafka, in a worker (Faust's producer) and in a command (a plain
aiokafka producer). Whatever sends them, committed rows go through the relay (per-record outcomes, back-off,
parking, order per key); records that exist nowhere else (dead letters written without the database) are
retried until the broker takes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from sqlalchemy.orm import Session, sessionmaker

from services.common.kafka_io import PUBLISH_TIMEOUT_S, producer_options
from services.common.logging import get_logger
from services.common.messaging import Messaging, OutboxRecord
from services.common.relay import Failure, OutboxRelay, Report, RunSync, publish_in_key_order
from services.common.retry import RetryPolicy, backoff_delay
from services.common.settings import Settings

log = get_logger(__name__)
T = TypeVar("T")

Send = Callable[[OutboxRecord], Awaitable["asyncio.Future[object]"]]
"""Hands one record to a producer; the future it returns settles when the broker answers."""

PERMANENT = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError,
             CorruptRecordException, UnsupportedForMessageFormatError, InvalidMessageError, TypeError, ValueError)
"""Errors that trying again cannot cure: the record itself is what the broker or the client refuses."""


def classify(exc: BaseException) -> Failure:
    """Faust wraps a producer's error in ProducerSendError; what counts is its cause."""
    cause = exc.__cause__ if exc.__cause__ is not None and type(exc).__name__ == "ProducerSendError" else exc
    return Failure(f"{type(cause).__name__}: {cause}"[:1000], isinstance(cause, PERMANENT))


class ProducerPublisher:
    """Sends records through a producer and reports, per record, whether the broker acknowledged it."""

    def __init__(self, send: Send) -> None:
        self._send = send

    async def send(self, records: list[OutboxRecord]) -> list[Failure | None]:
        outcomes: list[Failure | None | asyncio.Future[object]] = []
        for record in records:
            try:
                outcomes.append(asyncio.ensure_future(await self._send(record)))
            except Exception as exc:
                outcomes.append(classify(exc))
        pending = [o for o in outcomes if isinstance(o, asyncio.Future)]
        await asyncio.gather(*pending, return_exceptions=True)
        return [_outcome(o) if isinstance(o, asyncio.Future) else o for o in outcomes]


def _outcome(future: asyncio.Future[object]) -> Failure | None:
    error = future.exception()
    return None if error is None else classify(error)


def aiokafka_send(producer: AIOKafkaProducer) -> Send:
    async def send(record: OutboxRecord) -> asyncio.Future[object]:
        future: asyncio.Future[object] = await producer.send(record.topic, record.value, key=record.key,
                                                          headers=list(record.headers))
        return future
    return send


class Outbox:
    """Publishes what a transaction committed and sweeps up what is left, through one relay."""

    def __init__(self, publisher: ProducerPublisher, sessions: sessionmaker[Session], messaging: Messaging,
                 run_sync: RunSync, settings: Settings) -> None:
        self.publisher = publisher
        self.relay = OutboxRelay(publisher, sessions, messaging, run_sync, settings.outbox_sweep_grace_s,
                                 RetryPolicy.from_settings(settings), publish_timeout_s=PUBLISH_TIMEOUT_S)

    async def publish(self, records: list[OutboxRecord]) -> Report:
        """Committed rows go through the relay (what it cannot send now stays in the outbox for the sweep).
        Records that exist nowhere else are retried here until the broker takes them."""
        committed = [r for r in records if r.id is not None]
        report = Report()
        if committed:
            try:
                report = await self.relay.publish_committed(committed)
            except Exception as exc:
                log.warning("outbox.publish_deferred", count=len(committed), error=repr(exc))
                report = Report(held=committed)
        direct, attempt = [r for r in records if r.id is None], 0
        while direct:
            sent = await publish_in_key_order(self.publisher, direct)
            for record, why in sent.parked:
                log.error("dead_letter.unpublishable", topic=record.topic, size=len(record.value), error=why)
            report.sent.extend(sent.sent)
            direct = sent.unsent
            if direct:
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, 0.2, 5.0))
        return report

    async def sweep(self) -> Report:
        return await self.relay.sweep()


async def publish_once(settings: Settings, sessions: sessionmaker[Session], messaging: Messaging,
                       records: list[OutboxRecord]) -> Report:
    """A command's publish of what it committed (`fulfil dispatch`): the same relay as a worker's, with a producer
    of its own. What it cannot send stays in the outbox, where a worker's sweep finds it."""
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    try:
        async def run_sync(fn: Callable[[], T]) -> T:
            return await asyncio.to_thread(fn)
        return await Outbox(ProducerPublisher(aiokafka_send(producer)), sessions, messaging, run_sync,
                            settings).publish(records)
    finally:
        await producer.stop()
