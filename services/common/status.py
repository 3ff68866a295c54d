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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Connection, create_engine, text

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


async def _offsets(settings: Settings, topics: Sequence[str]) -> tuple[dict[TopicPartition, int],
                                                                     dict[TopicPartition, int]]:
    """(beginning, end) offset of every partition of the topics that exist."""
    consumer = AIOKafkaConsumer(**settings.aiokafka_options(), enable_auto_commit=False, group_id=None,
                                request_timeout_ms=15000)
    await consumer.start()
    try:
        # the cluster metadata itself: consumer.topics() fetches it but leaves partitions_for_topic() empty
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
        if not tps:
            return {}, {}
        return dict(await consumer.beginning_offsets(tps)), dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


def _positions(connection: Connection, schema: str) -> dict[tuple[str, int], int]:
    rows = connection.execute(text(f'SELECT topic, "partition", next_offset FROM "{schema}".consumer_offsets'))
    return {(topic, partition): offset for topic, partition, offset in rows}


def _dead_letters(connection: Connection, schemas: Sequence[str]) -> dict[str, int]:
    union = " UNION ".join(
        f'SELECT source_topic, source_partition, source_offset FROM "{s}".dead_letters' for s in schemas)
    rows = connection.execute(text(f"SELECT source_topic, count(*) FROM ({union}) d GROUP BY 1 ORDER BY 1"))
    return {topic: int(count) for topic, count in rows}


def observe(settings: Settings, consumers: Mapping[str, Sequence[str]]) -> Snapshot:
    """One look at the system. `consumers`: service (and its schema) -> the logical topics it consumes.
    The outboxes are read before the partitions' ends, so an event published in between is seen as lag."""
    engine = create_engine(settings.database_url, connect_args=settings.database_connect_args())
    try:
        with engine.connect() as connection:
            backlog = {s: connection.execute(text(
                f'SELECT (SELECT count(*) FROM "{s}".outbox), '
                f'extract(epoch FROM now() - (SELECT min(created_at) FROM "{s}".outbox)), '
                f'(SELECT count(*) FROM "{s}".outbox_parked)')).one() for s in consumers}
            physical = sorted({settings.topic(t) for topics in consumers.values() for t in topics})
            starts, ends = asyncio.run(_offsets(settings, physical))
            positions = {s: _positions(connection, s) for s in consumers}
            dead = _dead_letters(connection, list(consumers))
    finally:
        engine.dispose()
    services = []
    for service, topics in consumers.items():
        lag: dict[str, int] = {}
        for logical in topics:
            tps = [tp for tp in ends if tp.topic == settings.topic(logical)]
            lag[logical] = sum(max(0, ends[tp] - positions[service].get((tp.topic, tp.partition), starts[tp]))
                               for tp in tps)
        rows, oldest, parked = backlog[service]
        services.append(ServiceStatus(service, lag, int(rows), float(oldest) if oldest is not None else None,
                                      int(parked)))
    return Snapshot(services, {settings.logical_topic(t): n for t, n in dead.items()},
                    {f"{tp.topic}/{tp.partition}": end for tp, end in ends.items()})


def drained(previous: Snapshot | None, current: Snapshot) -> bool:
    """Nothing waiting in two looks in a row with no new message anywhere in between: an event being handed
    from one service to the next is always either in an outbox or past a partition's end, so two equal
    quiet looks mean nothing was in flight."""
    return previous is not None and previous.quiet and current.quiet and previous.ends == current.ends


def wait_drained(settings: Settings, consumers: Mapping[str, Sequence[str]], timeout_s: float,
                 interval_s: float = 0.5) -> tuple[bool, Snapshot]:
    """Look until the system has drained or `timeout_s` has passed; returns (drained, the last look)."""
    deadline = time.monotonic() + timeout_s
    previous: Snapshot | None = None
    while True:
        current = observe(settings, consumers)
        if drained(previous, current):
            return True, current
        if time.monotonic() >= deadline:
            return False, current
        previous = current
        time.sleep(interval_s)
