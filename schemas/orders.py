"""Order events: what shops publish on `shop.orders` and what the orders service answers on `orders.events`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, StrictInt

from schemas.base import Currency, Identifier, Model, Money, Payload, TimeWindow, UtcDatetime


class Customer(Model):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)


class Address(Model):
    """Coordinates are optional in the schema so that a missing one is a rejection reason, not a dead letter."""

    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postcode: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    latitude: float | None = None
    longitude: float | None = None


class OrderLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: StrictInt = Field(description="Units; must be a positive integer.")
    unit_price: Money = Field(description="Price of one unit, before order-level discounts.")


class OrderPlaced(Payload):
    """A shop's new order. Business rules (positive quantities, totals, window) are checked by the
    orders service and answered with order.accepted or order.rejected; only a message that does not
    fit this shape is dead-lettered."""

    EVENT_TYPE = "order.placed"
    order_id: Identifier
    shop_id: Identifier
    placed_at: UtcDatetime
    currency: Currency
    customer: Customer
    delivery_address: Address
    delivery_window: TimeWindow
    lines: list[OrderLine]
    discount_total: Money = Field(default=Decimal(0), description="Order-level discount, spread over lines for refunds.")
    shipping_total: Money = Decimal(0)
    total: Money = Field(description="sum(quantity * unit_price) - discount_total + shipping_total")
    delivery_method: Literal["delivery", "collect"] = Field(
        default="delivery", description="delivery: to the address; collect: the customer collects at collect_at")
    collect_at: Identifier | None = Field(default=None, description="Warehouse or pickup point, for collect")


class OrderCancellationRequested(Payload):
    """A shop asks to cancel (event type `order.cancelled` on `shop.orders`)."""

    EVENT_TYPE = "order.cancelled"
    order_id: Identifier
    shop_id: Identifier
    requested_at: UtcDatetime
    reason: str = Field(default="", max_length=500)


class RejectionReason(Model):
    field: str = Field(description="Path of the offending field, e.g. lines[2].quantity")
    code: str = Field(description="Stable machine-readable code, e.g. quantity_not_positive")
    message: str = Field(description="A sentence that names the field and the value")


class OrderAccepted(Payload):
    """The whole validated order, so downstream services need not ask for it."""

    EVENT_TYPE = "order.accepted"
    order_id: Identifier
    shop_id: Identifier
    placed_at: UtcDatetime
    accepted_at: UtcDatetime
    currency: Currency
    customer: Customer
    delivery_address: Address
    delivery_window: TimeWindow
    lines: list[OrderLine]
    discount_total: Money
    shipping_total: Money
    total: Money
    delivery_method: Literal["delivery", "collect"] = Field(
        default="delivery", description="delivery: to the address; collect: the customer collects at collect_at")
    collect_at: Identifier | None = Field(default=None, description="Warehouse or pickup point, for collect")


class OrderRejected(Payload):
    EVENT_TYPE = "order.rejected"
    order_id: Identifier
    shop_id: Identifier
    rejected_at: UtcDatetime
    reasons: list[RejectionReason] = Field(min_length=1)


class OrderCancelled(Payload):
    """Confirmed cancellation (event type `order.cancelled` on `orders.events`): stock may be released."""

    EVENT_TYPE = "order.cancelled"
    order_id: Identifier
    shop_id: Identifier
    cancelled_at: UtcDatetime
    previous_status: str
    reason: str = ""


class OrderCancellationRefused(Payload):
    EVENT_TYPE = "order.cancellation_refused"
    order_id: Identifier
    shop_id: Identifier
    refused_at: UtcDatetime
    code: Literal["picking_started", "already_shipped", "unknown_order", "not_cancellable"]
    message: str


