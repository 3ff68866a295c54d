"""The returns service's handlers on PostgreSQL: what it learns of orders, shipments and deliveries, and a return
from request through the warehouse's scans to one refund with its breakdown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from schemas.returns import RefundIssued, ReturnAuthorised, ReturnInspected, ReturnReceived, ReturnRejected
from services.returns.domain.inspection import InspectionError
from tests.service.builders import (
    accepted,
    cancelled,
    reserved,
    return_inspected,
    return_received,
    return_requested,
    status_changed,
)

pytestmark = pytest.mark.service


def delivered_order(h: Any, order: str = "A-1", shop: str = "acme") -> None:
    h.handle(accepted(order, shop, ("SKU-RED", 2), ("SKU-BLUE", 1)),
             reserved(order, shop, f"SH-{shop}", "WH-1", ("1", "SKU-RED", 2), ("2", "SKU-BLUE", 1)),
             status_changed(order, f"SH-{shop}", "delivered", shop))


def test_a_return_is_authorised_received_inspected_and_refunded_once(harness: Any) -> None:
    h = harness("returns")
    delivered_order(h)
    (authorised,) = h.handle(return_requested("R-1", "A-1", ("1", "SKU-RED", 2)))
    assert isinstance(authorised, ReturnAuthorised) and authorised.rma.startswith("RMA-")
    assert h.emitted[-1].key == "acme/A-1"
    (received,) = h.handle(return_received(authorised.rma, ("1", "SKU-RED", 2)))
    assert isinstance(received, ReturnReceived) and received.shop_id == "acme"
    inspected, refund = h.handle(return_inspected(authorised.rma, ("1", "SKU-RED", 2, "restock")))
    assert isinstance(inspected, ReturnInspected) and isinstance(refund, RefundIssued)
    # 2 x 10.00 less their share (20 of 30) of the 5.00 discount
    assert (refund.shop_id, refund.amount, refund.currency) == ("acme", Decimal("16.67"), "EUR")
    with pytest.raises(InspectionError, match="its refund was issued"):
        h.handle(return_inspected(authorised.rma, ("1", "SKU-RED", 1, "restock")))
    assert h.rows("SELECT shop_id, return_id, status FROM returns.returns") == [("acme", "R-1", "refunded")]
    assert h.rows("SELECT count(*) FROM returns.refunds") == [(1,)]


def test_a_return_is_rejected_with_every_reason_and_return_ids_are_the_shops_own(harness: Any) -> None:
    h = harness("returns")
    delivered_order(h)
    delivered_order(h, "A-1", "globex")
    h.handle(accepted("A-2"), cancelled("A-2"))
    answers = h.handle(return_requested("R-1", "A-1", ("1", "SKU-RED", 3)),
                       return_requested("R-1", "A-1", ("1", "SKU-RED", 1), shop="globex"),
                       return_requested("R-2", "A-2", ("1", "SKU-RED", 1)),
                       return_requested("R-3", "A-9", ("1", "SKU-RED", 1)),
                       return_requested("R-4", "A-1", ("1", "SKU-RED", 1), days_after=40),
                       return_requested("R-1", "A-1", ("1", "SKU-RED", 1)))  # acme's R-1 again: nothing new
    assert [type(a) for a in answers] == [ReturnRejected, ReturnAuthorised, ReturnRejected, ReturnRejected,
                                          ReturnRejected]
    reasons = [a.reasons for a in answers if isinstance(a, ReturnRejected)]
    assert reasons[0] == ["line '1': 3 asked, 2 of 2 delivered can still be returned"]
    assert reasons[1] == ["the order was cancelled"]
    assert reasons[2] == ["shop 'acme' has no order 'A-9' that was delivered"]
    assert "the 30-day return window closed" in reasons[3][0]
    assert h.rows("SELECT shop_id, return_id FROM returns.returns ORDER BY return_id, shop_id") == [
        ("acme", "R-1"), ("globex", "R-1"), ("acme", "R-2"), ("acme", "R-3"), ("acme", "R-4")]
