"""Returns: requests from shops and customers (`shop.returns`) and the service's answers (`returns.events`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from schemas.base import Currency, Identifier, Model, Money, Payload, UtcDatetime

ReturnReason = Literal["changed_mind", "damaged", "wrong_item", "not_as_described"]
Disposition = Literal["restock", "write_off", "needs_processing"]


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
    return_id: Identifier
    order_id: Identifier
    rma: str
    lines: list[ReturnLine]
    authorised_at: UtcDatetime


class ReturnRejected(Payload):
    EVENT_TYPE = "return.rejected"
    return_id: Identifier
    order_id: Identifier
    reasons: list[str] = Field(min_length=1)
    rejected_at: UtcDatetime


class ReceivedLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: PositiveInt


class ReturnReceived(Payload):
    EVENT_TYPE = "return.received"
    return_id: Identifier
    order_id: Identifier
    rma: str
    warehouse_id: Identifier
    lines: list[ReceivedLine]
    received_at: UtcDatetime


class InspectedLine(Model):
    line_id: Identifier
    sku: Identifier
    quantity: PositiveInt
    disposition: Disposition
    restock_warehouse_id: Identifier | None = None


class ReturnInspected(Payload):
    EVENT_TYPE = "return.inspected"
    return_id: Identifier
    order_id: Identifier
    lines: list[InspectedLine]
    inspected_at: UtcDatetime


class RefundLine(Model):
    line_id: Identifier
    quantity: PositiveInt
    amount: Money


class RefundIssued(Payload):
    EVENT_TYPE = "refund.issued"
    refund_id: Identifier
    return_id: Identifier
    order_id: Identifier
    currency: Currency
    lines: list[RefundLine]
    shipping: Money
    restocking_fee: Money
    amount: Money
    issued_at: UtcDatetime
