"""What `fulfil status` and `fulfil demo` read to tell whether the system has drained.

Consumer lag is the end of each partition (ListOffsets, which every Kafka-protocol broker answers) minus the
position the service recorded in its own batch transaction (consumer_offsets), so it reads the same on Apache
Kafka and on the embedded broker, whose admin API cannot list a group's offsets. The outbox backlog, parked
records and dead letters come from each service's schema. Services are named by the caller: this module knows
none of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from services.common.db import service_metadata
from services.common.messaging import Messaging
from services.common.settings import Settings


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    lag: dict[str, int]
    """Logical topic -> messages not yet processed, over all partitions."""
    outbox_rows: int
    outbox_oldest_s: float | None
    parked: int

    @property
    def waiting(self) -> int:
        return sum(self.lag.values()) + self.outbox_rows


@dataclass(frozen=True)
class Snapshot:
    services: list[ServiceStatus]
    dead_letters: dict[str, int]
    """Source topic -> dead-lettered messages, each counted once however many services refused it."""
    ends: dict[str, int] = field(repr=False)

    @property
    def quiet(self) -> bool:
        return all(s.waiting == 0 for s in self.services)

    def as_json(self, drained: bool) -> dict[str, object]:
        return {"services": [asdict(s) for s in self.services], "dead_letters": self.dead_letters,
                "parked": sum(s.parked for s in self.services), "drained": drained}


async def _offsets(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> tuple[dict[TopicPartition, int],
                                                                             dict[TopicPartition, int]]:
    """(beginning, end) offset of every partition of the topics that exist."""
    # the cluster metadata itself: consumer.topics() fetches it but leaves partitions_for_topic() empty
    cluster = await consumer._client.fetch_all_metadata()
    tps = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
    if not tps:
        return {}, {}
    return dict(await consumer.beginning_offsets(tps)), dict(await consumer.end_offsets(tps))


def _dead_letters(sessions: Mapping[str, Session]) -> dict[str, int]:
    """Per source topic, the messages some service dead-lettered, each once however many refused it (services
    may keep their schemas in different databases)."""
    seen: set[tuple[str, int, int]] = set()
    for schema, session in sessions.items():
        seen |= {tuple(row) for row in session.execute(text(
            f'SELECT source_topic, source_partition, source_offset FROM "{schema}".dead_letters'))}
    counts: dict[str, int] = {}
    for topic, _, _ in seen:
        counts[topic] = counts.get(topic, 0) + 1
    return dict(sorted(counts.items()))


async def _look(settings: Settings, consumers: Mapping[str, Sequence[str]], engines: Mapping[str, Engine],
                consumer: AIOKafkaConsumer) -> Snapshot:
    """One look. The outboxes are read before the partitions' ends, so an event published in between is seen as
    lag. Each service's tables are read in its own database."""
    messaging = {s: Messaging(service_metadata(s)) for s in consumers}
    with ExitStack() as stack:
        sessions = {s: stack.enter_context(Session(engines[s])) for s in consumers}
        backlog = {s: m.backlog(sessions[s]) for s, m in messaging.items()}
        physical = sorted({settings.topic(t) for topics in consumers.values() for t in topics})
        starts, ends = await _offsets(consumer, physical)
        positions = {s: m.positions(sessions[s]) for s, m in messaging.items()}
        dead = _dead_letters(sessions)
    services = []
    for service, topics in consumers.items():
        lag: dict[str, int] = {}
        for logical in topics:
            tps = [tp for tp in ends if tp.topic == settings.topic(logical)]
            lag[logical] = sum(max(0, ends[tp] - positions[service].get((tp.topic, tp.partition), starts[tp]))
                               for tp in tps)
        b = backlog[service]
        services.append(ServiceStatus(service, lag, b.rows, b.oldest_s, b.parked))
    return Snapshot(services, {settings.logical_topic(t): n for t, n in dead.items()},
                    {f"{tp.topic}/{tp.partition}": end for tp, end in ends.items()})


@asynccontextmanager
async def _connections(settings: Settings, services: Sequence[str]
                       ) -> AsyncIterator[tuple[dict[str, Engine], AIOKafkaConsumer]]:
    """An engine per database the services' schemas live in (service -> its engine) and one Kafka client, for
    every look of a wait."""
    by_url = {url: create_engine(url, connect_args=settings.database_connect_args(), pool_size=1)
              for url in {settings.database_url_for(s) for s in services}}
    consumer = AIOKafkaConsumer(**settings.aiokafka_options(), enable_auto_commit=False, group_id=None,
                                request_timeout_ms=15000)
    try:
        await consumer.start()
        yield {s: by_url[settings.database_url_for(s)] for s in services}, consumer
    finally:
        await consumer.stop()
        for engine in by_url.values():
            engine.dispose()


def observe(settings: Settings, consumers: Mapping[str, Sequence[str]]) -> Snapshot:
    """One look at the system. `consumers`: service (and its schema) -> the logical topics it consumes."""
    async def once() -> Snapshot:
        async with _connections(settings, list(consumers)) as (engines, consumer):
            return await _look(settings, consumers, engines, consumer)

    return asyncio.run(once())


def drained(previous: Snapshot | None, current: Snapshot) -> bool:
    """Nothing waiting in two looks in a row with no new message anywhere in between: an event being handed
    from one service to the next is always either in an outbox or past a partition's end, so two equal
    quiet looks mean nothing was in flight."""
    return previous is not None and previous.quiet and current.quiet and previous.ends == current.ends


def wait_drained(settings: Settings, consumers: Mapping[str, Sequence[str]], timeout_s: float,
                 interval_s: float = 0.5) -> tuple[bool, Snapshot]:
    """Look until the system has drained or `timeout_s` has passed; returns (drained, the last look)."""
    async def wait() -> tuple[bool, Snapshot]:
        deadline = time.monotonic() + timeout_s
        previous: Snapshot | None = None
        async with _connections(settings, list(consumers)) as (engines, consumer):
            while True:
                current = await _look(settings, consumers, engines, consumer)
                if drained(previous, current):
                    return True, current
                if time.monotonic() >= deadline:
                    return False, current
                previous = current
                await asyncio.sleep(interval_s)

    return asyncio.run(wait())
