"""Returns: requests from shops and customers (`shop.returns`), the warehouse's scans of returned parcels
(`warehouse.scans`) and the returns service's answers (`returns.events`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from schemas.base import Currency, Identifier, Model, Money, Payload, UtcDatetime

ReturnReason = Literal["changed_mind", "damaged", "wrong_item", "not_as_described"]
Disposition = Literal["restock", "write_off", "needs_processing"]
Rma = Annotated[str, Field(pattern=r"^RMA-[0-9A-Z]{8,32}$", description="The return's number, from return.authorised")]


class ReturnLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: PositiveInt
    reason: ReturnReason
    opened: bool = False


class ReturnRequested(Payload):
    EVENT_TYPE = "return.requested"
    return_id: Identifier
    order_id: Identifier
    shop_id: Identifier
    requested_at: UtcDatetime
    lines: list[ReturnLine] = Field(min_length=1)


class ReturnAuthorised(Payload):
    EVENT_TYPE = "return.authorised"
    SCHEMA_VERSION = 2
    shop_id: Identifier
    return_id: Identifier
    order_id: Identifier
    rma: Rma
    lines: list[ReturnLine]
    authorised_at: UtcDatetime


class ReturnRejected(Payload):
    EVENT_TYPE = "return.rejected"
    SCHEMA_VERSION = 2
    shop_id: Identifier
    return_id: Identifier
    order_id: Identifier
    reasons: list[str] = Field(min_length=1)
    rejected_at: UtcDatetime


class ReceivedLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: PositiveInt


class ReturnParcelReceived(Payload):
    """Warehouse staff scanned a returned parcel in (`return.received` on `warehouse.scans`)."""

    EVENT_TYPE = "return.received"
    rma: Rma
    warehouse_id: Identifier
    lines: list[ReceivedLine] = Field(min_length=1)
    received_at: UtcDatetime


class ReturnReceived(Payload):
    EVENT_TYPE = "return.received"
    SCHEMA_VERSION = 2
    shop_id: Identifier
    return_id: Identifier
    order_id: Identifier
    rma: Rma
    warehouse_id: Identifier
    lines: list[ReceivedLine]
    received_at: UtcDatetime


class InspectedLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: PositiveInt
    disposition: Disposition
    restock_warehouse_id: Identifier | None = Field(
        default=None, description="Where restocked units go; the inspecting warehouse when left out")


class ReturnParcelInspected(Payload):
    """Warehouse staff inspected returned units (`return.inspected` on `warehouse.scans`). Units marked
    needs_processing may be inspected again later with their final disposition."""

    EVENT_TYPE = "return.inspected"
    rma: Rma
    warehouse_id: Identifier
    lines: list[InspectedLine] = Field(min_length=1)
    inspected_at: UtcDatetime


class ReturnInspected(Payload):
    """The inspection as the returns service accepted it; the warehouse service restocks the restock lines."""

    EVENT_TYPE = "return.inspected"
    SCHEMA_VERSION = 2
    shop_id: Identifier
    return_id: Identifier
    order_id: Identifier
    rma: Rma
    warehouse_id: Identifier
    lines: list[InspectedLine]
    inspected_at: UtcDatetime


class RefundLine(Model):
    line_id: Identifier
    quantity: PositiveInt
    amount: Money = Field(description="Refunded for this line, after its restocking fee")
    restocking_fee: Money = Decimal(0)


class RefundIssued(Payload):
    EVENT_TYPE = "refund.issued"
    SCHEMA_VERSION = 2
    refund_id: Identifier
    shop_id: Identifier
    return_id: Identifier
    order_id: Identifier
    rma: Rma
    currency: Currency
    lines: list[RefundLine]
    shipping: Money
    restocking_fee: Money
    amount: Money
    explanation: list[str] = Field(description="The breakdown, one sentence per line, to read out to a customer")
    issued_at: UtcDatetime
