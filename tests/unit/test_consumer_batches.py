"""The consumer alone, without Faust or a database: one fetch's share of every topic goes to the processor in one
transaction; when that fails for good each topic is tried alone before anything is dead-lettered, so one topic's
broken batch never takes another's records with it; records below PostgreSQL's position are never processed
again; a batch's publishing overlaps the next batch but batches go out in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from faust.types import TP

from services.common.consuming import Consumer
from services.common.dead_letters import Incoming
from services.common.health import Health
from services.common.messaging import OutboxRecord
from services.common.processor import BatchOutcome
from services.common.settings import Settings


class Processor:
    """Stands in for the database side: a batch holding a message of topic `broken` fails, whatever else it holds."""

    def __init__(self, broken: str = "none", positions: dict[tuple[str, int], int] | None = None) -> None:
        self.broken = broken
        self.handlers: dict[str, dict[str, object]] = {"a": {}, "b": {}}
        self.calls: list[tuple[str, list[str]]] = []
        self.seen: list[tuple[str, int, int]] = []
        self.held = positions or {}

    def _fails(self, batch: list[Incoming]) -> bool:
        return any(m.topic == self.broken for m in batch)

    def run_together(self, batches: list[list[Incoming]]) -> list[BatchOutcome]:
        self.calls.append(("together", [b[0].topic for b in batches]))
        if any(self._fails(b) for b in batches):
            raise RuntimeError("a bug that no retry cures")
        self.seen.extend((m.topic, m.partition, m.offset) for b in batches for m in b)
        return [BatchOutcome(processed=len(b), to_publish=[OutboxRecord("out", b"k", b"v", uuid.UUID(int=m.offset), [], m.offset)
                                                           for m in b]) for b in batches]

    def run(self, batch: list[Incoming]) -> BatchOutcome:
        self.calls.append(("alone", [batch[0].topic]))
        if self._fails(batch):
            raise RuntimeError("a bug that no retry cures")
        return BatchOutcome(processed=len(batch), to_publish=[OutboxRecord("out", b"k", b"v", uuid.UUID(int=1), [], 1)])

    def abandon(self, batch: list[Incoming], reason: str) -> BatchOutcome:
        self.calls.append(("abandoned", [batch[0].topic]))
        return BatchOutcome(dead=len(batch))

    def positions(self) -> dict[tuple[str, int], int]:
        return dict(self.held)


async def inline(fn: Callable[[], Any]) -> Any:
    await asyncio.sleep(0)  # as a thread would, the event loop runs meanwhile
    return fn()


ASSIGNED = {TP(t, p) for t in ("a", "b") for p in range(4)}


def consumer(processor: Processor, publish: Callable[[list[OutboxRecord]], Any] | None = None,
             assigned: set[TP] = ASSIGNED) -> tuple[Consumer, list[list[OutboxRecord]]]:
    published: list[list[OutboxRecord]] = []

    async def record(records: list[OutboxRecord]) -> None:
        published.append(records)

    c = Consumer("test", Settings(), processor, publish or record, Health(60), inline, inline,  # type: ignore[arg-type]
                 lambda tp: 0, lambda: assigned)
    return c, published


async def handled(c: Consumer, messages: list[Incoming]) -> None:
    await c.handle(messages)
    await c.settle()


def batch(topic: str, *offsets: int, partition: int = 0) -> list[Incoming]:
    return [Incoming(topic, partition, o, b"k", b"{}", (), float(o)) for o in offsets]


def test_two_topics_go_in_one_transaction() -> None:
    processor = Processor()
    c, published = consumer(processor)
    asyncio.run(handled(c, batch("a", 0, 1) + batch("b", 5)))
    assert processor.calls == [("together", ["a", "b"])]
    assert [len(p) for p in published] == [3]


def test_a_topic_that_fails_for_good_is_dead_lettered_alone_and_the_other_commits() -> None:
    processor = Processor(broken="b")
    c, published = consumer(processor)
    asyncio.run(handled(c, batch("a", 0, 1) + batch("b", 5)))
    assert processor.calls == [("together", ["a", "b"]), ("alone", ["a"]), ("alone", ["b"]), ("abandoned", ["b"])]
    assert [len(p) for p in published] == [1], "what topic a committed alone is published"


def test_one_topic_that_fails_for_good_is_dead_lettered_without_a_second_try() -> None:
    processor = Processor(broken="b")
    c, _ = consumer(processor)
    asyncio.run(c.handle(batch("b", 5)))
    assert processor.calls == [("together", ["b"]), ("abandoned", ["b"])]


def test_records_below_postgres_position_are_never_processed_again() -> None:
    """Fetched from Kafka's older offset before the seek to PostgreSQL's landed: left alone."""
    processor = Processor(positions={("a", 0): 5, ("a", 1): 2, ("b", 0): 9})
    c, _ = consumer(processor)
    found = asyncio.run(c.positions({TP("a", 0), TP("a", 1), TP("b", 3)}))
    assert found == {TP("a", 0): 5, TP("a", 1): 2}, "only assigned partitions PostgreSQL knows"
    asyncio.run(c.handle(batch("a", 3, 4, 5, 6) + batch("a", 1, 2, partition=1) + batch("b", 0, partition=3)))
    assert sorted(processor.seen) == [("a", 0, 5), ("a", 0, 6), ("a", 1, 2), ("b", 3, 0)]


def test_a_batch_all_below_the_position_reaches_no_transaction() -> None:
    processor = Processor(positions={("a", 0): 10})
    c, _ = consumer(processor)
    asyncio.run(c.positions({TP("a", 0)}))
    asyncio.run(c.handle(batch("a", 7, 8, 9)))
    assert processor.calls == []


def test_records_of_a_partition_revoked_since_they_were_taken_are_left_to_its_new_owner() -> None:
    processor = Processor()
    c, _ = consumer(processor, assigned={TP("a", 0)})
    asyncio.run(handled(c, batch("a", 1, 2) + batch("a", 7, partition=1)))
    assert sorted(processor.seen) == [("a", 0, 1), ("a", 0, 2)]


def test_a_topics_partitions_are_handled_in_publish_order() -> None:
    processor = Processor()
    c, _ = consumer(processor)
    mixed = [Incoming("a", 2, 7, b"k", b"{}", (), 3.0), Incoming("a", 0, 4, b"k", b"{}", (), 1.0),
             Incoming("a", 0, 5, b"k", b"{}", (), 2.5), Incoming("a", 1, 9, b"k", b"{}", (), 2.0)]
    asyncio.run(c.handle(mixed))
    assert [(p, o) for _, p, o in processor.seen] == [(0, 4), (1, 9), (0, 5), (2, 7)]


def test_publishing_overlaps_the_next_batch_but_batches_go_out_in_order() -> None:
    processor = Processor()
    order: list[str] = []

    processor.run_together = lambda batches: (order.append(f"processed {batches[0][0].offset}"),  # type: ignore
                                              Processor.run_together(processor, batches))[1]

    async def slow(records: list[OutboxRecord]) -> None:
        order.append(f"start {records[0].id}")
        await asyncio.sleep(0.05)
        order.append(f"end {records[0].id}")

    c, _ = consumer(processor, slow)

    async def two() -> None:
        await c.handle(batch("a", 1))
        order.append("second batch")
        await c.handle(batch("a", 2))
        await c.settle()

    asyncio.run(two())
    assert order == ["processed 1", "second batch", "start 1", "processed 2", "end 1", "start 2", "end 2"]
