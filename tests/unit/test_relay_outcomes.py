"""Publishing reports an outcome per record: one record never blocks another, and records with the same key
go out in order."""

from __future__ import annotations

import asyncio
import uuid

from services.common.messaging import OutboxRecord
from services.common.relay import Failure, publish_in_key_order


def record(n: int, key: str | None, topic: str = "orders.events") -> OutboxRecord:
    return OutboxRecord(topic, key.encode() if key is not None else None, f"v{n}".encode(), uuid.uuid4(), [], n)


class Broker:
    """Takes what it is sent, in rounds; refuses some records for good and some for now."""

    def __init__(self, permanent: set[int] = frozenset(), transient: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.permanent, self.transient = permanent, transient
        self.rounds: list[list[int]] = []
        self.acknowledged: list[int] = []

    async def send(self, records: list[OutboxRecord]) -> list[Failure | None]:
        self.rounds.append([r.id for r in records])  # type: ignore[misc]
        outcomes: list[Failure | None] = []
        for r in records:
            if r.id in self.permanent:
                outcomes.append(Failure("MessageSizeTooLargeError", permanent=True))
            elif r.id in self.transient:
                outcomes.append(Failure("KafkaConnectionError", permanent=False))
            else:
                self.acknowledged.append(r.id)  # type: ignore[arg-type]
                outcomes.append(None)
        return outcomes


def test_records_with_distinct_keys_go_out_in_one_round() -> None:
    broker = Broker()
    report = asyncio.run(publish_in_key_order(broker, [record(n, f"o-{n}") for n in range(1, 6)]))
    assert broker.rounds == [[1, 2, 3, 4, 5]]
    assert [r.id for r in report.sent] == [1, 2, 3, 4, 5] and not report.unsent


def test_a_record_that_can_never_be_published_is_parked_and_blocks_nothing() -> None:
    broker = Broker(permanent={2})
    records = [record(1, "a"), record(2, "a"), record(3, "a"), record(4, "b")]
    report = asyncio.run(publish_in_key_order(broker, records))
    assert [r.id for r, _ in report.parked] == [2]
    assert broker.acknowledged == [1, 4, 3]
    assert not report.failed and not report.held


def test_a_transient_failure_holds_back_later_records_of_its_key_only() -> None:
    broker = Broker(transient={1})
    records = [record(1, "a"), record(2, "a"), record(3, "b"), record(4, "b"), record(5, None)]
    report = asyncio.run(publish_in_key_order(broker, records))
    assert [r.id for r, _ in report.failed] == [1]
    assert [r.id for r in report.held] == [2], "record 2 must not overtake record 1 on the wire"
    assert sorted(broker.acknowledged) == [3, 4, 5]
    assert broker.acknowledged.index(3) < broker.acknowledged.index(4)


def test_records_of_one_key_are_each_sent_only_after_the_one_before_was_acknowledged() -> None:
    broker = Broker()
    asyncio.run(publish_in_key_order(broker, [record(1, "a"), record(2, "a"), record(3, "a"), record(4, "b")]))
    assert broker.rounds == [[1, 4], [2], [3]]


def test_nothing_acknowledged_is_sent_again() -> None:
    broker = Broker(transient={3})
    records = [record(n, f"k{n % 2}") for n in range(1, 7)]
    report = asyncio.run(publish_in_key_order(broker, records))
    retry = asyncio.run(publish_in_key_order(Broker(), report.unsent))
    assert sorted(r.id or 0 for r in [*report.sent, *retry.sent]) == [1, 2, 3, 4, 5, 6]
