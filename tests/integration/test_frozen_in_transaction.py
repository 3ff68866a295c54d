"""No worker holds another's progress hostage for longer than its session timeout: a worker frozen inside a writing
transaction (its inbox and order rows written and locked, nothing committed) loses its partitions to the other
worker after the session timeout, and PostgreSQL ends its transaction after as long again, so the other worker,
which meets its locked rows, carries on; resumed, the frozen one finds its work done. Nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.eventually import eventually
from tests.factories import order_placed
from tests.integration.conftest import Stack, log_records, values

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_S = 6.0


def test_a_worker_frozen_inside_a_writing_transaction_holds_nobody_up_for_long(stack: Stack) -> None:
    bounded = {"FULFIL_KAFKA_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S)}
    frozen = stack.start_worker(FULFIL_FAULTS="freeze_in_transaction", **bounded)
    other = stack.start_worker(**bounded)
    stack.wait_for_assignments("shop.orders", 2)
    total = 40
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(total)])
    eventually(lambda: log_records(stack.log_text(), "fault.freeze_in_transaction"), every_s=0.2,
               context=stack.log_tail)
    froze_at = time.monotonic()
    try:
        stack.read("orders.events", lambda rs: len({e["payload"]["order_id"] for e in values(rs)}) == total,
                   timeout_s=60)
        took = time.monotonic() - froze_at
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    # the session timeout for the group to give the partitions away, as long again at most for PostgreSQL to end
    # the frozen transaction, and the batches themselves
    assert took < 3 * SESSION_TIMEOUT_S + 5, f"the other worker waited {took:.1f} s"
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= total, settle_s=4)
    ids = [e["event_id"] for e in values(records)]
    assert len(ids) == len(set(ids)) == total, "an order was answered twice"
    assert stack.sql("SELECT count(*) FROM orders.orders")[0][0] == total
    assert frozen.poll() is None and other.poll() is None, stack.log_tail()
