"""Where a worker resumes: from the positions PostgreSQL committed with each batch, whatever the broker's committed
offsets say; and on a clean stop it leaves the broker's offsets where PostgreSQL's are."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import create_engine, text

from services.common.faust_app import group_id
from services.common.topics import load_spec
from tests.factories import order_placed
from tests.integration.conftest import ROOT, Stack, log_records, values

pytestmark = pytest.mark.integration


def accepted(records: list[dict[str, object]]) -> list[str]:
    return [e["payload"]["order_id"] for e in values(records, "order.accepted")]


async def broker_offsets(stack: Stack, commit: int | None = None) -> dict[int, int | None]:
    """The orders group's committed offsets on shop.orders, per partition; with `commit`, set them all to it."""
    consumer = AIOKafkaConsumer(**stack.settings.aiokafka_options(), group_id=group_id("orders", stack.settings),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        topic = stack.settings.topic("shop.orders")
        partitions = [TopicPartition(topic, p) for p in range(load_spec()["shop.orders"].partitions)]
        consumer.assign(partitions)
        if commit is not None:
            await consumer.commit(dict.fromkeys(partitions, commit))
        return {tp.partition: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()


def test_a_clean_stop_leaves_the_brokers_offsets_where_postgres_has_them(stack: Stack) -> None:
    worker = stack.start_worker()
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(6)])
    stack.read("orders.events", lambda rs: len(accepted(rs)) == 6)
    stack.stop_workers()
    assert worker.returncode == 0, stack.log_tail()
    positions = {p: n for t, p, n in stack.sql("SELECT topic, partition, next_offset FROM orders.consumer_offsets")
                 if t == stack.settings.topic("shop.orders")}
    assert sum(positions.values()) == 6
    committed = asyncio.run(broker_offsets(stack))
    assert {p: o for p, o in committed.items() if o} == positions
    assert [r["event"] for r in log_records(stack.log_text(), "worker.stopped")] == ["worker.stopped"]
    assert not list(ROOT.glob(f"{stack.settings.topic_namespace}*")), "a worker leaves nothing where it started"


def test_a_worker_resumes_where_postgres_says_not_where_the_broker_says(stack: Stack) -> None:
    """The broker's offsets are wound back to the start (an operator's mistake, a lost commit): the worker still
    reads nothing twice, because it seeks to the positions committed with its own batches."""
    stack.start_worker()
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(4)])
    stack.read("orders.events", lambda rs: len(accepted(rs)) == 4)
    stack.stop_workers()
    assert set(asyncio.run(broker_offsets(stack, commit=0)).values()) == {0}

    stack.start_worker()
    stack.send("shop.orders", [order_placed("o-after")])
    records = stack.read("orders.events", lambda rs: "o-after" in accepted(rs), settle_s=2)
    assert sorted(accepted(records)) == ["o-0", "o-1", "o-2", "o-3", "o-after"]
    assert log_records(stack.log_text(), "event.duplicate") == []  # nothing was read again
    assert stack.sql("SELECT count(*) FROM orders.inbox")[0][0] == 5


def test_where_postgres_has_no_position_the_brokers_offset_is_used(stack: Stack) -> None:
    """Positions lost from the database (a schema restored from before they were recorded): the broker's
    committed offsets say where to go on, not the start of the log."""
    stack.start_worker()
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(3)])
    stack.read("orders.events", lambda rs: len(accepted(rs)) == 3)
    stack.stop_workers()
    engine = create_engine(stack.settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM orders.consumer_offsets"))
    engine.dispose()

    stack.start_worker()
    stack.send("shop.orders", [order_placed("o-next")])
    records = stack.read("orders.events", lambda rs: "o-next" in accepted(rs), settle_s=2)
    assert sorted(accepted(records)) == ["o-0", "o-1", "o-2", "o-next"]
    assert log_records(stack.log_text(), "event.duplicate") == []  # nothing before the broker's offsets read again
