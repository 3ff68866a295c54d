"""What `GET /returns/{rma}` and `fulfil returns show` answer: the return's state, line by line, and the refund
with the sentences a customer-service agent reads out. No personal data: an RMA is all it takes to ask."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.returns import tables
from services.returns.domain.refunds import money


class LineView(BaseModel):
    line_id: str
    sku: str
    quantity: int
    reason: str
    opened: bool
    received: int
    restocked: int
    written_off: int
    awaiting_processing: int


class RefundLineView(BaseModel):
    line_id: str
    quantity: int
    amount: Decimal
    restocking_fee: Decimal


class RefundView(BaseModel):
    refund_id: str
    currency: str
    amount: Decimal
    shipping: Decimal
    restocking_fee: Decimal
    lines: list[RefundLineView]
    explanation: list[str]
    issued_at: datetime


class ReturnView(BaseModel):
    rma: str | None
    shop_id: str
    return_id: str
    order_id: str
    status: str
    requested_at: datetime
    updated_at: datetime
    rejected_because: list[str]
    lines: list[LineView]
    refund: RefundView | None
    version: int


def show(session: Session, rma: str, shop_id: str | None = None) -> ReturnView | None:
    """By RMA; with `shop_id`, also by that shop's return id (a rejected return has no RMA). Return ids are the
    shops' own, so a return id alone names nothing."""
    r, f, o = tables.returns, tables.refunds, tables.orders
    wanted = r.c.rma == rma
    if shop_id is not None:
        wanted = or_(wanted & (r.c.shop_id == shop_id), (r.c.shop_id == shop_id) & (r.c.return_id == rma))
    row = session.execute(select(r).where(wanted)).first()
    if row is None:
        return None
    paid = session.execute(select(f, o.c.currency)
                           .join(o, (o.c.shop_id == f.c.shop_id) & (o.c.order_id == f.c.order_id))
                           .where(f.c.shop_id == row.shop_id, f.c.return_id == row.return_id)).first()
    refund = None if paid is None else RefundView(
        refund_id=paid.refund_id, currency=paid.currency, amount=money(paid.amount_cents),
        shipping=money(paid.shipping_cents), restocking_fee=money(paid.fee_cents), explanation=paid.explanation,
        issued_at=paid.issued_at, lines=[RefundLineView(
            line_id=line["line_id"], quantity=line["quantity"], amount=money(line["gross_cents"] - line["fee_cents"]),
            restocking_fee=money(line["fee_cents"])) for line in paid.lines])
    lines = []
    for line in row.lines:
        counts = row.dispositions.get(line["line_id"], {})
        lines.append(LineView(
            line_id=line["line_id"], sku=line["sku"], quantity=line["quantity"], reason=line["reason"],
            opened=line["opened"], received=row.received.get(line["line_id"], 0),
            restocked=counts.get("restock", 0), written_off=counts.get("write_off", 0),
            awaiting_processing=counts.get("needs_processing", 0)))
    return ReturnView(rma=row.rma, shop_id=row.shop_id, return_id=row.return_id, order_id=row.order_id,
                      status=row.status,
                      requested_at=row.requested_at, updated_at=row.updated_at, rejected_because=row.reasons,
                      lines=lines, refund=refund, version=row.version)


def text(view: ReturnView) -> str:
    """The same, as a person reads it in a terminal."""
    out = [f"{view.rma or view.return_id}  order {view.order_id} of {view.shop_id}  {view.status}  (requested "
           f"{view.requested_at:%Y-%m-%d %H:%M} UTC)"]
    out += [f"  rejected: {reason}" for reason in view.rejected_because]
    for line in view.lines:
        out.append(f"  line {line.line_id:<4} {line.sku:<16} x{line.quantity:<3} {line.reason:<17}"
                   f"{' opened' if line.opened else '':7} received {line.received}, restocked {line.restocked}, "
                   f"written off {line.written_off}, awaiting processing {line.awaiting_processing}")
    if view.refund:
        out.append(f"  refund {view.refund.refund_id}: {view.refund.amount} {view.refund.currency} "
                   f"on {view.refund.issued_at:%Y-%m-%d %H:%M} UTC")
        out += [f"    {sentence}" for sentence in view.refund.explanation]
    return "\n".join(out)
