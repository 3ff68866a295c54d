"""Warehouse events: scans from staff devices (`warehouse.scans`) and the service's own (`warehouse.events`)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, PositiveInt

from schemas.base import Identifier, Model, Payload, TimeWindow, UtcDatetime
from schemas.orders import Address


class StockReceived(Payload):
    EVENT_TYPE = "stock.received"
    warehouse_id: Identifier
    sku: Identifier
    quantity: PositiveInt
    bin: Identifier | None = None
    reference: str | None = Field(default=None, max_length=100, description="Purchase order or return RMA")
    received_at: UtcDatetime


class StockCounted(Payload):
    EVENT_TYPE = "stock.counted"
    warehouse_id: Identifier
    sku: Identifier
    bin: Identifier | None = None
    counted_quantity: int = Field(ge=0)
    counted_at: UtcDatetime


class PickConfirmed(Payload):
    EVENT_TYPE = "pick.confirmed"
    SCHEMA_VERSION = 2
    warehouse_id: Identifier
    picklist_id: Identifier
    shop_id: Identifier
    order_id: Identifier
    sku: Identifier
    bin: Identifier
    quantity: PositiveInt
    picked_at: UtcDatetime


class PickShort(Payload):
    EVENT_TYPE = "pick.short"
    SCHEMA_VERSION = 2
    warehouse_id: Identifier
    picklist_id: Identifier
    shop_id: Identifier
    order_id: Identifier
    sku: Identifier
    bin: Identifier
    requested_quantity: PositiveInt
    picked_quantity: int = Field(ge=0)
    reported_at: UtcDatetime


class PackedItem(Model):
    sku: Identifier
    quantity: PositiveInt


class ParcelPacked(Payload):
    EVENT_TYPE = "parcel.packed"
    SCHEMA_VERSION = 2
    warehouse_id: Identifier
    shop_id: Identifier
    order_id: Identifier
    parcel_id: Identifier
    weight_kg: Decimal = Field(gt=0, max_digits=8, decimal_places=3)
    volume_m3: Decimal = Field(gt=0, max_digits=8, decimal_places=4)
    items: list[PackedItem] = Field(min_length=1)
    packed_at: UtcDatetime


class ReservedLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: PositiveInt


class StockReserved(Payload):
    """One shipment's worth of stock held in one warehouse for one order."""

    EVENT_TYPE = "stock.reserved"
    SCHEMA_VERSION = 2
    shop_id: Identifier
    order_id: Identifier
    shipment_id: Identifier
    warehouse_id: Identifier
    lines: list[ReservedLine] = Field(min_length=1)
    rule: str = Field(description="The allocation rule that decided, e.g. single_warehouse")
    explanation: str = Field(description="Why this warehouse, in a sentence a person can read")
    reserved_at: UtcDatetime


class OrderBackordered(Payload):
    EVENT_TYPE = "order.backordered"
    SCHEMA_VERSION = 2
    shop_id: Identifier
    order_id: Identifier
    lines: list[ReservedLine] = Field(min_length=1)
    reason: str
    backordered_at: UtcDatetime


class OrderRef(Model):
    """An order as Fulfil identifies it: order ids are the shop's own, so only the pair is unique."""

    shop_id: Identifier
    order_id: Identifier


class ToteAssignment(Model):
    shop_id: Identifier
    order_id: Identifier
    tote: str
    quantity: PositiveInt


class PicklistLine(Model):
    sequence: PositiveInt
    zone: str
    aisle: int
    bay: int
    level: int
    bin: Identifier
    sku: Identifier
    quantity: PositiveInt
    totes: list[ToteAssignment]


class PicklistIssued(Payload):
    EVENT_TYPE = "picklist.issued"
    SCHEMA_VERSION = 2
    KEY = ("warehouse_id",)
    CORRELATION = ("picklist_id",)
    picklist_id: Identifier
    warehouse_id: Identifier
    wave_id: Identifier
    issued_at: UtcDatetime
    orders: list[OrderRef] = Field(min_length=1)
    lines: list[PicklistLine] = Field(min_length=1)


class ShipmentPacked(Payload):
    EVENT_TYPE = "shipment.packed"
    SCHEMA_VERSION = 2
    shipment_id: Identifier
    shop_id: Identifier
    order_id: Identifier
    warehouse_id: Identifier
    tracking_number: str = Field(min_length=8, max_length=64)
    parcel_id: Identifier
    weight_kg: Decimal
    volume_m3: Decimal
    delivery_address: Address
    delivery_window: TimeWindow
    packed_at: UtcDatetime


class StockLow(Payload):
    EVENT_TYPE = "stock.low"
    KEY = ("warehouse_id",)
    CORRELATION = ("warehouse_id", "sku")
    warehouse_id: Identifier
    sku: Identifier
    available: int
    reorder_point: int
    detected_at: UtcDatetime


