"""The worker hands one fetch's share of every topic to the processor in one transaction; when that fails for good,
each topic is tried alone before anything is dead-lettered, so one topic's broken batch never takes another's
records to the dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.dead_letters import Incoming
from services.common.messaging import OutboxRecord
from services.common.processor import BatchOutcome
from services.common.settings import Settings
from services.common.worker import Worker


class Processor:
    """Stands in for the database side: a batch holding a message of topic `broken` fails, whatever else it holds."""

    def __init__(self, broken: str) -> None:
        self.broken = broken
        self.calls: list[tuple[str, list[str]]] = []

    def _fails(self, batch: list[Incoming]) -> bool:
        return any(m.topic == self.broken for m in batch)

    def run_together(self, batches: list[list[Incoming]]) -> list[BatchOutcome]:
        self.calls.append(("together", [b[0].topic for b in batches]))
        if any(self._fails(b) for b in batches):
            raise RuntimeError("a bug that no retry cures")
        return [BatchOutcome(processed=len(b)) for b in batches]

    def run(self, batch: list[Incoming]) -> BatchOutcome:
        self.calls.append(("alone", [batch[0].topic]))
        if self._fails(batch):
            raise RuntimeError("a bug that no retry cures")
        return BatchOutcome(processed=len(batch), to_publish=[OutboxRecord("out", b"k", b"v", None, [], 1)])

    def abandon(self, batch: list[Incoming], reason: str) -> BatchOutcome:
        self.calls.append(("abandoned", [batch[0].topic]))
        return BatchOutcome(dead=len(batch))


class Consumer:
    def highwater(self, tp: Any) -> int:
        return 0


def worker(processor: Processor) -> tuple[Worker, list[list[OutboxRecord]]]:
    w = Worker(Settings(), service="test", sessions=None, messaging=None, handlers={})  # type: ignore[arg-type]
    w.processor = processor  # type: ignore[assignment]
    w.consumer = Consumer()  # type: ignore[assignment]
    published: list[list[OutboxRecord]] = []

    async def publish(records: list[OutboxRecord]) -> None:
        published.append(records)

    w._publish = publish  # type: ignore[method-assign]
    return w, published


def batch(topic: str, *offsets: int) -> list[Incoming]:
    return [Incoming(topic, 0, o, b"k", b"{}") for o in offsets]


def test_two_topics_go_in_one_transaction() -> None:
    processor = Processor(broken="none")
    w, _ = worker(processor)
    asyncio.run(w._process([("a", batch("a", 0, 1)), ("b", batch("b", 5))]))
    assert processor.calls == [("together", ["a", "b"])]
    assert {tp.topic: o for tp, o in w.done.items()} == {"a": 2, "b": 6}


def test_a_topic_that_fails_for_good_is_dead_lettered_alone_and_the_other_commits() -> None:
    processor = Processor(broken="b")
    w, published = worker(processor)
    asyncio.run(w._process([("a", batch("a", 0, 1)), ("b", batch("b", 5))]))
    assert processor.calls == [("together", ["a", "b"]), ("alone", ["a"]), ("alone", ["b"]), ("abandoned", ["b"])]
    assert [len(p) for p in published] == [1], "what topic a committed alone is published"
    assert {tp.topic: o for tp, o in w.done.items()} == {"a": 2, "b": 6}, "nothing is read again or skipped"


def test_one_topic_that_fails_for_good_is_dead_lettered_without_a_second_try() -> None:
    processor = Processor(broken="b")
    w, _ = worker(processor)
    asyncio.run(w._process([("b", batch("b", 5))]))
    assert processor.calls == [("together", ["b"]), ("abandoned", ["b"])]
