"""Effectively-once at the edges, on real Apache Kafka and PostgreSQL: poison messages at the broker's size limit
strand nothing, a message refused by two services counts once, operators can see whether the system drained."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from services.common.topics import message_max_bytes
from tests.factories import order_placed
from tests.integration.conftest import Stack, fulfil, values

pytestmark = pytest.mark.integration

LIMIT = message_max_bytes()


def status(stack: Stack, *args: str) -> dict[str, Any]:
    done = fulfil(stack, "status", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_a_poison_message_just_under_the_brokers_limit_strands_no_order(stack: Stack) -> None:
    stack.start_worker()
    stack.start_worker()
    poison = b"\xff" + b"not json " * ((LIMIT - 200) // 9)
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(5)], key="one-partition")
    stack.send("shop.orders", [poison], key="one-partition")
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(5, 10)], key="one-partition")

    records = stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) >= 10, settle_s=3)
    accepted = [e["payload"]["order_id"] for e in values(records, "order.accepted")]
    assert sorted(accepted) == sorted(f"o-{i}" for i in range(10)), "every order answered, once"

    (dead,) = stack.read("shop.orders.dlq", lambda rs: len(rs) >= 1, settle_s=3)
    headers = dead["headers"]
    assert headers["fulfil.truncated"] == "true"
    assert headers["fulfil.original.size"] == str(len(poison))
    assert headers["fulfil.original.sha256"] == hashlib.sha256(poison).hexdigest()
    kept = stack.sql("SELECT value, sha256 FROM orders.dead_letters")
    assert len(kept) == 1 and bytes(kept[0][0]) == poison, "the original is kept whole"
    assert stack.sql("SELECT count(*) FROM orders.outbox")[0][0] == 0
    assert stack.sql("SELECT count(*) FROM orders.outbox_parked")[0][0] == 0

    seen = status(stack, "--wait-drained", "--timeout", "60", "--service", "orders")
    assert seen["drained"] is True and seen["dead_letters"] == {"shop.orders": 1} and seen["parked"] == 0


def test_a_scan_refused_by_two_services_is_one_dead_letter_to_the_operator(stack: Stack) -> None:
    stack.start_worker("tracking")
    stack.start_worker("routing")
    stack.send("carrier.scans", [b"{" + b" " * (LIMIT - 400)], key="FL-1")
    stack.read("carrier.scans.dlq", lambda rs: len(rs) >= 2, settle_s=2)
    seen = status(stack, "--wait-drained", "--timeout", "60", "--service", "tracking", "--service", "routing")
    assert seen["dead_letters"] == {"carrier.scans": 1}
    assert seen["drained"] is True


def test_status_says_what_is_waiting_and_exits_1_when_it_does_not_drain_in_time(stack: Stack) -> None:
    stack.send("shop.orders", [order_placed(f"o-{i}") for i in range(3)])
    seen = status(stack, "--wait-drained", "--timeout", "1", "--service", "orders")
    (orders,) = seen["services"]
    assert orders["lag"]["shop.orders"] == 3 and seen["drained"] is False
    assert fulfil(stack, "status", "--wait-drained", "--timeout", "1", "--service", "orders").returncode == 1

    stack.start_worker()
    seen = status(stack, "--wait-drained", "--timeout", "90", "--service", "orders")
    assert seen["drained"] is True
    text = fulfil(stack, "status", "--service", "orders")
    assert text.returncode == 0 and "drained: yes" in text.stdout and "shop.orders" in text.stdout


def test_fulfil_send_refuses_what_the_broker_would_refuse_and_sends_nothing(stack: Stack, tmp_path: Path) -> None:
    lines = tmp_path / "big.jsonl"
    lines.write_text("small\n" + "x" * LIMIT + "\n")
    done = fulfil(stack, "send", "shop.orders", str(lines), "--raw")
    assert done.returncode == 2
    assert "message 2 is" in done.stderr and f"the broker takes at most {LIMIT}" in done.stderr
    assert "nothing was sent" in done.stderr and "Traceback" not in done.stderr
    assert stack.read("shop.orders", lambda rs: True, timeout_s=3) == []
