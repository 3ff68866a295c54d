"""The consumer: one Faust agent per service takes all its topics in batches from Faust's stream and runs each batch
in one database transaction, then hands what it committed to the publisher.

One agent over all the service's topics, not one per topic: a worker reading three topics pays once per batch,
not three times, for what a transaction costs (the session, the inbox, outbox and offset statements, the commit
and the relay's delete). Each topic's share is handled in publish order (Kafka orders records only within a
partition: a pick list must not be handled before the reservations it names), and a failure one topic's share
cannot get past is retried topic by topic before anything is dead-lettered.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from faust.types import TP, EventT

from services.common import metrics
from services.common.dead_letters import Incoming
from services.common.errors import describe_error
from services.common.faust_app import App, connect
from services.common.health import Health
from services.common.logging import get_logger
from services.common.messaging import OutboxRecord
from services.common.processor import BatchOutcome, Processor, describe
from services.common.relay import RunSync
from services.common.settings import Settings

log = get_logger(__name__)


class Publish(Protocol):
    async def __call__(self, records: list[OutboxRecord]) -> Any: ...


def in_publish_order(partitions: Sequence[Sequence[Incoming]]) -> list[Incoming]:
    """One topic's records, partitions merged by the time each record was published, each partition's own order
    kept."""
    return list(heapq.merge(*partitions, key=lambda m: m.timestamp))


def incoming(event: EventT[Any]) -> Incoming:
    message = event.message
    headers: Any = message.headers or ()
    items = headers.items() if isinstance(headers, dict) else headers
    return Incoming(message.topic, message.partition, message.offset, message.key, message.value,
                    tuple((str(k), bytes(v)) for k, v in items), message.timestamp)


class Consumer:
    """The agent's work, apart from Faust so that it can be driven on its own: a batch of incoming messages in,
    one transaction per batch, what it committed to the publisher (publishing overlaps the next batch; batches
    still go out one after another, so order per key holds)."""

    def __init__(self, service: str, settings: Settings, processor: Processor, publish: Publish, health: Health,
                 run_db: RunSync, run_outbox: RunSync, highwater: Callable[[TP], int | None],
                 assignment: Callable[[], set[TP]]) -> None:
        self.service, self.settings, self.processor, self.publish = service, settings, processor, publish
        self.health, self.run_db, self.run_outbox, self.highwater = health, run_db, run_outbox, highwater
        self.assignment = assignment
        self.topics = {settings.topic(name): name for name in processor.handlers}
        self.floor: dict[tuple[str, int], int] = {}
        """PostgreSQL's position per partition at assignment: anything fetched below it is done already."""
        self.in_flight: asyncio.Future[object] | None = None  # the last batch's publishing
        self.crash_after_commit = "crash_after_commit" in settings.fault_set

    def attach(self, app: App) -> None:
        """One agent over every topic the service handles, and where the app's consumer resumes."""
        topic = app.topic(*sorted(self.topics), key_serializer="raw", value_serializer="raw")
        app.agent(topic, name=f"{self.service}.consume")(self.agent)
        app.positions = self.positions
        connect(app.on_partitions_revoked, self._revoked)
        connect(app.on_partitions_assigned, self._assigned)

    async def agent(self, stream: Any) -> None:
        """Batches as Faust's stream gathers them: up to batch_size, or what came within batch_wait_ms. Faust
        acknowledges a batch's events once this returns to the stream for the next."""
        within = self.settings.batch_wait_ms / 1000
        async for events in stream.take_events(self.settings.batch_size, within=within):
            await self.handle([incoming(e) for e in events])

    async def handle(self, messages: Sequence[Incoming]) -> None:
        """Records below PostgreSQL's position were fetched before the seek to it landed, and records of a partition
        revoked since they were taken are its new owner's (it resumes at PostgreSQL's position): both left alone.
        Should a batch still overlap another worker's (one frozen past its session timeout), the inbox drops what
        was done already."""
        mine = {(tp.topic, tp.partition) for tp in self.assignment()}
        by_topic: dict[str, dict[int, list[Incoming]]] = {}
        for m in messages:
            if (m.topic, m.partition) in mine and m.offset >= self.floor.get((m.topic, m.partition), 0):
                by_topic.setdefault(m.topic, {}).setdefault(m.partition, []).append(m)
        batches = [(self.topics.get(topic, topic), in_publish_order(list(parts.values())))
                   for topic, parts in by_topic.items()]
        if batches:
            await self.process(batches)

    async def process(self, batches: list[tuple[str, list[Incoming]]]) -> None:
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
            self._record_lag(topic, batch)
        to_publish = [record for outcome in outcomes for record in outcome.to_publish]
        if self.crash_after_commit and to_publish:
            log.error("fault.crash_after_commit", pending=len(to_publish))
            os.kill(os.getpid(), signal.SIGKILL)
        await self.settle()
        self.in_flight = asyncio.ensure_future(self.publish(to_publish))
        if any(record.id is None for record in to_publish):  # they exist nowhere else: out before moving on
            await self.in_flight
        for (topic, batch), outcome in zip(batches, outcomes, strict=True):
            log.info("batch.done", topic=topic, size=len(batch), seconds=round(took, 4), **describe(outcome))

    async def settle(self) -> None:
        """The last batch's records are out (or left to the sweep) before another batch's, or another worker's."""
        if self.in_flight is not None:
            await asyncio.gather(self.in_flight, return_exceptions=True)

    async def _alone(self, topic: str, batch: list[Incoming]) -> BatchOutcome:
        try:
            return await self.run_db(partial(self.processor.run, batch))
        except Exception as exc:
            return await self._abandon(topic, batch, exc)

    async def _abandon(self, topic: str, batch: list[Incoming], exc: Exception) -> BatchOutcome:
        """The last resort: the batch is dead-lettered whole, never skipped."""
        log.error("batch.failed", topic=topic, size=len(batch), exc_info=exc)
        return await self.run_db(partial(self.processor.abandon, batch, f"processing failed: {describe_error(exc)}"))

    async def positions(self, assigned: set[TP]) -> Mapping[TP, int]:
        """PostgreSQL's positions for the assigned partitions, and the floor below which nothing is taken."""
        try:
            held = await self.run_outbox(self.processor.positions)
        except Exception:  # waited out for a while; the broker's offsets then decide, the inbox drops repeats
            log.exception("partitions.positions_unread")
            return {}
        found = {tp: held[(tp.topic, tp.partition)] for tp in assigned if (tp.topic, tp.partition) in held}
        self.floor = {(tp.topic, tp.partition): offset for tp, offset in found.items()}
        return found

    async def _assigned(self, sender: Any, *args: Any, signal: Any = None, **_: Any) -> None:
        assigned: set[TP] = args[0]
        mine: dict[str, list[int]] = {}
        for tp in assigned:
            if tp.topic in self.topics:
                mine.setdefault(self.topics[tp.topic], []).append(tp.partition)
        self.health.partitions_assigned(sum(len(p) for p in mine.values()))
        log.info("partitions.assigned", pid=os.getpid(), partitions={t: sorted(p) for t, p in mine.items()})

    async def _revoked(self, sender: Any, *_: Any, signal: Any = None, **__: Any) -> None:
        """Faust has waited for the batch in hand; its publishing finishes before the partitions go elsewhere."""
        await self.settle()

    def _record_lag(self, topic: str, batch: Sequence[Incoming]) -> None:
        last: dict[tuple[str, int], int] = {}
        for m in batch:
            last[(m.topic, m.partition)] = m.offset
        for (physical, partition), offset in last.items():
            try:
                highwater = self.highwater(TP(physical, partition))
            except Exception:  # revoked meanwhile, or no fetch position yet: nothing to say
                continue
            if highwater is not None:
                metrics.LAG.labels(self.service, topic, str(partition)).set(max(0, highwater - offset - 1))
