from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.orders import OrderPlaced
from services.orders.domain.validation import OrderRules, validate_order
from tests.factories import NOW, order_payload

RULES = OrderRules()


def order(**overrides: Any) -> OrderPlaced:
    return OrderPlaced.model_validate(order_payload(now=NOW, **overrides))


def codes(placed: OrderPlaced, rules: OrderRules = RULES) -> dict[str, str]:
    return {r.field: r.code for r in validate_order(placed, rules, NOW)}


def test_a_well_formed_order_has_no_reasons() -> None:
    assert validate_order(order(), RULES, NOW) == []


def test_an_order_without_lines_is_refused() -> None:
    assert codes(order(lines=[], total="-0.05")) == {"lines": "no_lines", "discount_total": "discount_exceeds_subtotal"}


@pytest.mark.parametrize("quantity", [0, -3])
def test_quantities_must_be_positive(quantity: int) -> None:
    placed = order(lines=[{"line_id": "1", "sku": "A", "quantity": quantity, "unit_price": "1.00"}],
                   discount_total="0", shipping_total="0", total=str(quantity))
    reasons = validate_order(placed, RULES, NOW)
    assert [(r.field, r.code) for r in reasons] == [("lines[0].quantity", "quantity_not_positive")]
    assert str(quantity) in reasons[0].message


def test_every_broken_rule_is_reported_field_by_field() -> None:
    placed = order(
        lines=[{"line_id": "1", "sku": "A", "quantity": 0, "unit_price": "-1.00"},
               {"line_id": "1", "sku": "B", "quantity": 20000, "unit_price": "1.00"}],
        total="999", delivery_address={"line1": "x", "city": "y", "postcode": "z", "country": "BE"},
        delivery_window={"start": (NOW - timedelta(hours=1)).isoformat(), "end": (NOW - timedelta(hours=2)).isoformat()},
    )
    assert codes(placed) == {
        "lines[0].line_id": "duplicate_line_id",
        "lines[0].quantity": "quantity_not_positive",
        "lines[0].unit_price": "price_negative",
        "lines[1].line_id": "duplicate_line_id",
        "lines[1].quantity": "quantity_too_large",
        "total": "total_mismatch",
        "delivery_address.latitude": "coordinates_missing",
        "delivery_address.longitude": "coordinates_missing",
        "delivery_window": "window_inverted",
        "delivery_window.start": "window_in_past",
    }


def test_totals_must_add_up_within_the_tolerance() -> None:
    good = order_payload(now=NOW)
    assert codes(order(total=str(Decimal(good["total"]) + Decimal("0.01")))) == {}
    reasons = validate_order(order(total=str(Decimal(good["total"]) + Decimal("0.02"))), RULES, NOW)
    assert [r.code for r in reasons] == ["total_mismatch"]
    assert "= 44.93" in reasons[0].message


def test_unknown_skus_are_refused_only_when_a_catalogue_is_configured() -> None:
    rules = OrderRules(catalogue=frozenset({"SKU-RED"}))
    assert codes(order(), rules) == {"lines[1].sku": "unknown_sku"}
    assert codes(order()) == {}


def test_the_window_must_start_within_the_horizon_and_after_the_lead_time() -> None:
    far = NOW + timedelta(days=100)
    assert codes(order(delivery_window={"start": far.isoformat(), "end": (far + timedelta(hours=1)).isoformat()})) == {
        "delivery_window.start": "window_too_far"}
    soon = NOW + timedelta(minutes=30)
    window = {"start": soon.isoformat(), "end": (soon + timedelta(hours=1)).isoformat()}
    assert codes(order(delivery_window=window), OrderRules(min_lead=timedelta(hours=2))) == {
        "delivery_window.start": "window_in_past"}


def test_an_order_placed_in_the_future_is_refused_beyond_clock_skew() -> None:
    assert codes(order(placed_at=(NOW + timedelta(minutes=4)).isoformat())) == {}
    assert codes(order(placed_at=(NOW + timedelta(hours=1)).isoformat())) == {"placed_at": "placed_in_future"}


def test_coordinates_must_be_on_earth() -> None:
    address = order_payload(now=NOW)["delivery_address"] | {"latitude": 95.0}
    assert codes(order(delivery_address=address)) == {"delivery_address.latitude": "coordinates_out_of_range"}


def test_discounts_and_shipping_cannot_be_negative() -> None:
    payload = order_payload(now=NOW)
    placed = order(discount_total="-1.00", shipping_total="-1.00", total=str(Decimal(payload["total"]) + Decimal("0.05")))
    assert codes(placed) == {"discount_total": "discount_negative", "shipping_total": "shipping_negative"}
