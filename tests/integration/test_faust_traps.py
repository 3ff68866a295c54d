"""The two traps Faust is known for, on a real broker and PostgreSQL.

A worker frozen (SIGSTOP) past its session timeout loses its partitions to another worker while a batch may be
in its hands; resumed, it must not publish anything twice nor leave anything out, and it must rejoin rather
than die. A database outage stands consumption still with the fetcher's buffers full and partitions changing
hands: Faust drops records of a partition paused or revoked mid-fetch, so nothing may depend on Faust's own
position for a record it dropped.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from services.common.embedded import EmbeddedPostgres
from services.common.topics import load_spec
from tests.factories import order_placed
from tests.integration.conftest import Stack, log_records, make_stack, values

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_S = 6


def accepted_everything_once(stack: Stack, total: int) -> None:
    records = stack.read("orders.events", lambda rs: len({e["payload"]["order_id"] for e in values(rs)}) >= total,
                         timeout_s=180, settle_s=5)
    published = values(records)
    ids = [e["event_id"] for e in published]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} event(s) published twice"
    assert sorted(e["payload"]["order_id"] for e in published) == sorted(f"o-{i}" for i in range(total))
    assert {e["event_type"] for e in published} == {"order.accepted"}
    assert stack.sql("SELECT count(*) FROM orders.orders")[0][0] == total
    assert stack.sql("SELECT count(*) FROM orders.inbox")[0][0] == total
    assert stack.read("shop.orders.dlq", lambda rs: True, timeout_s=3) == []


def send_steadily(stack: Stack, total: int, every_s: float) -> threading.Thread:
    def send_all() -> None:
        for start in range(0, total, 10):
            stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(start, start + 10)])
            time.sleep(every_s)  # a shop's pace

    sender = threading.Thread(target=send_all)
    sender.start()
    return sender


def test_a_worker_frozen_past_its_session_timeout_doubles_and_loses_nothing(stack: Stack) -> None:
    timeouts = {"FULFIL_KAFKA_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S), "FULFIL_BATCH_SIZE": "20"}
    frozen = stack.start_worker(**timeouts)
    other = stack.start_worker(**timeouts)
    stack.wait_for_assignments("shop.orders", 2)
    total = 400
    sender = send_steadily(stack, total, 0.15)
    time.sleep(1.5)
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        time.sleep(SESSION_TIMEOUT_S * 2.5)
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    sender.join()
    accepted_everything_once(stack, total)

    frozen_log, other_log = (p.read_text() for p in sorted(stack.logs.glob("orders-*.log")))
    every = load_spec()["shop.orders"].partitions
    held = [len(r["partitions"].get("shop.orders", [])) for r in log_records(other_log, "partitions.assigned")]
    shared = next(i for i, n in enumerate(held) if n < every)
    assert every in held[shared + 1:], "the other worker never took the frozen one's partitions: the test proved nothing"
    assert len(log_records(frozen_log, "partitions.assigned")) >= 2, "the frozen worker did not rejoin"
    assert frozen.poll() is None and other.poll() is None, stack.log_tail()


def test_a_database_outage_with_full_buffers_and_a_rebalance_loses_nothing(kafka_bootstrap: str,
                                                                           tmp_path: Path) -> None:
    """Small batches, so the stream's buffer and the fetcher are full when the database goes; a second worker
    joins during the outage, so partitions are revoked while records fetched for them sit in Faust's buffers."""
    postgres = EmbeddedPostgres(tmp_path / "pg")
    postgres.start()
    stack = make_stack(kafka_bootstrap, postgres, tmp_path / "logs")
    small = {"FULFIL_BATCH_SIZE": "10", "FULFIL_KAFKA_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    try:
        stack.start_worker(**small)
        stack.wait_for_assignments("shop.orders", 1)
        total = 300
        sender = send_steadily(stack, total, 0.2)
        time.sleep(1.5)
        postgres.stop()
        time.sleep(4)
        stack.start_worker(**small)
        time.sleep(12)
        postgres.start()
        sender.join()
        accepted_everything_once(stack, total)
        assert "consumer.paused" in stack.log_text(), "the outage was not noticed: the test proved nothing"
        stack.assert_workers_alive()
    finally:
        stack.stop_workers()
        postgres.stop()
