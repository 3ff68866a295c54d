"""A worker handles one topic's fetched records in the order they were published, each partition's own order
kept: Kafka orders records only within a partition, and a fetch returns partitions one after another."""

from __future__ import annotations

from services.common.consuming import in_publish_order
from services.common.dead_letters import Incoming


def record(partition: int, offset: int, timestamp: int) -> Incoming:
    return Incoming("warehouse.events", partition, offset, b"k", b"v", (), timestamp / 1000)


def test_partitions_are_merged_by_publish_time() -> None:
    # reservations on partition 0 and 1, the pick list naming them published last, on partition 2 (another key)
    fetched = [[record(2, 7, 300)], [record(0, 4, 100), record(0, 5, 250)], [record(1, 9, 200)]]
    order = [(r.partition, r.offset) for r in in_publish_order(fetched)]
    assert order == [(0, 4), (1, 9), (0, 5), (2, 7)]


def test_a_partition_keeps_its_own_order_even_when_its_clocks_disagree() -> None:
    # two producers with skewed clocks wrote partition 0: its offsets still go in order
    fetched = [[record(0, 1, 500), record(0, 2, 100)], [record(1, 1, 300)]]
    merged = in_publish_order(fetched)
    assert [r.offset for r in merged if r.partition == 0] == [1, 2]
    assert len(merged) == 3 and in_publish_order([]) == []
