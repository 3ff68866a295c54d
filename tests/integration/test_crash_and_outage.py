"""Losing nothing and doubling nothing when a worker dies or PostgreSQL goes away."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.common.embedded import EmbeddedPostgres, free_port
from tests.eventually import eventually
from tests.factories import order_placed
from tests.integration.conftest import Stack, get, make_stack, values

pytestmark = pytest.mark.integration


def test_a_worker_killed_after_commit_but_before_publishing_republishes_after_restart(stack: Stack) -> None:
    doomed = stack.start_worker(FULFIL_FAULTS="crash_after_commit")
    stack.send("shop.orders", [order_placed("o-crash")])
    assert doomed.wait(60) == -9, stack.log_tail()
    assert stack.sql("SELECT status FROM orders.orders WHERE order_id = 'o-crash'")[0][0] == "accepted"
    assert stack.sql("SELECT count(*) FROM orders.outbox")[0][0] == 1
    assert values(stack.read("orders.events", lambda rs: True, timeout_s=5)) == []

    stack.start_worker()
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= 1, settle_s=4)
    published = values(records)
    assert [(e["event_type"], e["payload"]["order_id"]) for e in published] == [("order.accepted", "o-crash")]
    assert stack.sql("SELECT count(*) FROM orders.outbox")[0][0] == 0
    assert stack.sql("SELECT count(*) FROM orders.inbox")[0][0] == 1


OUTAGE_S = 80
"""More than twice the old retry budget (about 36 s, after which whole batches used to be dead-lettered)."""


def readiness(port: int) -> tuple[int, dict[str, object]]:
    answer = get(port, "/readyz")
    return answer.status_code, answer.json()


def test_postgres_away_longer_than_any_retry_budget_loses_and_doubles_nothing(kafka_bootstrap: str,
                                                                              tmp_path: Path) -> None:
    postgres = EmbeddedPostgres(tmp_path / "pg")
    postgres.start()
    stack = make_stack(kafka_bootstrap, postgres, tmp_path / "logs")
    port = free_port()
    try:
        stack.start_worker(FULFIL_METRICS_PORT=str(port))
        stack.send("shop.orders", [order_placed("warm-up")])
        stack.read("orders.events", lambda rs: len(values(rs)) == 1)
        assert get(port, "/healthz").status_code == 200
        eventually(lambda: readiness(port), lambda answer: answer[0] == 200, timeout_s=30, every_s=0.5)

        total = 120
        def send_all_orders() -> None:
            for start in range(0, total, 10):
                stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(start, start + 10)])
                time.sleep(0.5)  # a shop's pace: orders keep coming through the outage

        sender = ThreadPoolExecutor(1)
        sending = sender.submit(send_all_orders)  # its error, if any, is raised where it is awaited
        # the outage begins with orders flowing: some taken, more on the way
        eventually(lambda: stack.sql("SELECT count(*) FROM orders.orders")[0][0], lambda n: n > 1, every_s=0.1)
        postgres.stop()
        time.sleep(OUTAGE_S / 2)
        code, body = readiness(port)
        assert code == 503 and body["database"] == "down" and body["paused"] is True, body
        assert get(port, "/healthz").status_code == 200, "alive all the same"
        time.sleep(OUTAGE_S / 2)
        postgres.start()
        sending.result(timeout=120)
        sender.shutdown()

        records = stack.read("orders.events", lambda rs: len(values(rs)) >= total + 1, timeout_s=120, settle_s=4)
        # A batch the relay sent just as the database went away stays in the outbox, so the sweep sends it again
        # after: the same events, with the same ids, which consumers drop (at-least-once on the wire). What must
        # hold is that each order was answered once, by one event.
        published = list({e["event_id"]: e for e in values(records)}.values())
        orders = sorted(e["payload"]["order_id"] for e in published if e["payload"]["order_id"] != "warm-up")
        assert len(published) == total + 1, "an order was answered twice, or not at all"
        assert orders == sorted(f"o-{i}" for i in range(total))
        assert {e["event_type"] for e in published} == {"order.accepted"}
        assert stack.sql("SELECT count(*) FROM orders.orders")[0][0] == total + 1
        assert stack.sql("SELECT count(*) FROM orders.order_transitions")[0][0] == total + 1, "processed twice"
        assert stack.sql("SELECT count(*) FROM orders.outbox")[0][0] == 0
        assert "database.retry" in stack.log_text(), "the outage was not noticed: the test proved nothing"
        assert "consumer.paused" in stack.log_text() and "consumer.resumed" in stack.log_text()
        assert stack.read("shop.orders.dlq", lambda rs: True, timeout_s=3) == [], "an outage is never a dead letter"
        assert readiness(port)[0] == 200
    finally:
        stack.stop_workers()
        postgres.stop()
