"""The orders service's handlers on PostgreSQL: placement, cancellation and the warehouse's progress."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.orders import OrderAccepted, OrderCancellationRefused, OrderRejected
from tests.service.builders import cancel_request, picklist, placed, reserved, shipment_packed

pytestmark = pytest.mark.service


def status(h: Any, shop: str, order: str) -> str | None:
    found = h.rows("SELECT status FROM orders.orders WHERE shop_id = :s AND order_id = :o", s=shop, o=order)
    return found[0][0] if found else None


def test_a_valid_order_is_accepted_keyed_by_shop_and_order_with_its_first_transition(harness: Any) -> None:
    h = harness("orders")
    (answer,) = h.handle(placed("A-1"))
    assert isinstance(answer, OrderAccepted) and answer.accepted_at == h.now
    (emit,) = h.emitted
    assert (emit.topic, emit.key, emit.event.envelope.correlation_id) == ("orders.events", "acme/A-1", "acme/A-1")
    assert status(h, "acme", "A-1") == "accepted"
    assert h.rows("SELECT shop_id, from_status, to_status FROM orders.order_transitions") == [
        ("acme", None, "accepted")]


def test_a_rejected_order_names_every_broken_rule_and_may_be_placed_again(harness: Any) -> None:
    h = harness("orders")
    (rejected,) = h.handle(placed("A-1", "acme", ("SKU-RED", 0), total="-5.05"))
    assert isinstance(rejected, OrderRejected)
    assert {r.code for r in rejected.reasons} == {"quantity_not_positive", "discount_exceeds_subtotal", "total_mismatch"}
    (again,) = h.handle(placed("A-1"))
    assert isinstance(again, OrderAccepted)
    assert h.rows("SELECT from_status, to_status FROM orders.order_transitions ORDER BY id") == [
        (None, "rejected"), ("rejected", "accepted")]


def test_an_id_is_the_shops_own(harness: Any) -> None:
    h = harness("orders")
    h.handle(placed("A-1"))
    reused, other = h.handle(placed("A-1"), placed("A-1", "globex"))
    assert isinstance(reused, OrderRejected) and [r.code for r in reused.reasons] == ["order_id_in_use"]
    assert isinstance(other, OrderAccepted) and other.shop_id == "globex"
    assert (status(h, "acme", "A-1"), status(h, "globex", "A-1")) == ("accepted", "accepted")


def test_cancellation_until_picking_starts_and_only_of_the_shops_own_order(harness: Any) -> None:
    h = harness("orders")
    h.handle(placed("A-1"), placed("A-2"), placed("A-1", "globex"))
    h.handle(reserved("A-2"), picklist(("acme", "A-2")))
    answers = h.handle(cancel_request("A-1"), cancel_request("A-2"), cancel_request("A-9"), cancel_request("A-1"))
    assert [type(a).__name__ for a in answers] == ["OrderCancelled", "OrderCancellationRefused",
                                                   "OrderCancellationRefused"]
    assert [a.code for a in answers if isinstance(a, OrderCancellationRefused)] == ["picking_started", "unknown_order"]
    assert (status(h, "acme", "A-1"), status(h, "globex", "A-1")) == ("cancelled", "accepted")


def test_the_warehouses_progress_moves_each_order_once_and_in_order(harness: Any) -> None:
    h = harness("orders")
    h.handle(placed("A-1"), placed("A-1", "globex"))
    assert h.handle(reserved("A-1", "globex"), reserved("A-1", "globex", "SH-2"),
                    picklist(("globex", "A-1")), shipment_packed("A-1", "globex")) == []
    assert (status(h, "acme", "A-1"), status(h, "globex", "A-1")) == ("accepted", "packed")
    assert h.rows("SELECT to_status FROM orders.order_transitions WHERE shop_id = 'globex' ORDER BY id") == [
        ("accepted",), ("allocated",), ("picking",), ("packed",)]
    h.handle(reserved("A-7"))  # an order this service never saw changes nothing
    assert status(h, "acme", "A-7") is None
