"""Dead letters from the operator's side, on real Apache Kafka and PostgreSQL: a scan refused because its warehouse
is unknown is listed once, shown byte for byte, and after the fix (the layout loaded) replayed to its topic, where
the warehouse now takes it; the replay is visible. A replay releases only what the dead-lettered message itself
claimed."""

from __future__ import annotations

import json

import pytest

from tests.factories import order_placed, scan
from tests.integration.conftest import Stack, fulfil, load_layout, values

pytestmark = pytest.mark.integration

LAYOUT = {"warehouses": [{"id": "W-NEW", "name": "New", "latitude": 51.0, "longitude": 4.0, "priority": 1,
                          "grid": {"zones": ["A"], "aisles": 1, "bays": 2, "levels": 1}, "stock": []}]}


def test_a_dead_letter_is_listed_once_shown_byte_for_byte_and_replayed_after_the_fix(stack: Stack) -> None:
    stack.start_worker("warehouse")
    received = scan("stock.received", "W-NEW", sku="SKU-NEW", quantity=5, bin="A-01-01-1")
    stack.send("warehouse.scans", [received], key="W-NEW")
    stack.read("warehouse.scans.dlq", lambda rs: len(rs) >= 1)

    listed = fulfil(stack, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (letter,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (letter["topic"], letter["replayed_at"]) == ("warehouse.scans", None)
    assert "'W-NEW' is not a known warehouse" in letter["reasons"]["warehouse"]
    shown = fulfil(stack, "dlq", "show", letter["id"], "--raw")
    assert shown.stdout == json.dumps(received), "the message as it arrived, byte for byte"

    load_layout(stack, LAYOUT)  # the fix
    replayed = fulfil(stack, "dlq", "replay", letter["id"])
    assert replayed.returncode == 0 and "replayed 1 message(s) to warehouse.scans" in replayed.stdout, replayed.stderr
    stack.until_sql("SELECT on_hand FROM warehouse.stock WHERE warehouse_id = 'W-NEW'", [(5,)])
    (again,) = [json.loads(line) for line in fulfil(stack, "dlq", "list", "--json").stdout.splitlines()]
    assert again["id"] == letter["id"] and again["replayed_at"] is not None
    assert fulfil(stack, "dlq", "replay", "--topic", "warehouse.scans").stdout.strip() == "nothing to replay"
    unknown = fulfil(stack, "dlq", "show", "warehouse:00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 2 and "no dead letter" in unknown.stderr


def test_replaying_a_forgery_of_an_accepted_event_changes_nothing(stack: Stack) -> None:
    """Another sender reuses an accepted order's event id under a forged source: refused. Replaying that dead letter
    must not release the original's claim: the shop's own resend is still a duplicate, never `order_id_in_use`."""
    stack.start_worker("orders")
    original = order_placed("o-forged")
    stack.send("shop.orders", [original])
    stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) == 1)
    (claim,) = stack.sql("SELECT topic, partition, \"offset\" FROM orders.inbox")
    stack.send("shop.orders", [{**original, "source": "shop:globex"}])
    stack.read("shop.orders.dlq", lambda rs: len(rs) == 1)

    (letter,) = [json.loads(line) for line in fulfil(stack, "dlq", "list", "--json").stdout.splitlines()]
    assert "may not act for shop" in letter["reasons"]["orders"]
    replayed = fulfil(stack, "dlq", "replay", letter["id"])
    assert replayed.returncode == 0, replayed.stderr
    stack.read("shop.orders.dlq", lambda rs: len(rs) == 2)  # the replayed forgery is refused again
    assert stack.sql("SELECT topic, partition, \"offset\" FROM orders.inbox") == [claim], "the original's claim stays"

    stack.send("shop.orders", [original])  # the shop sends its own order again
    records = stack.read("orders.events", lambda rs: len(values(rs)) >= 1, settle_s=4)
    assert [e["event_type"] for e in values(records)] == ["order.accepted"]
    assert "event.duplicate" in stack.log_text()
