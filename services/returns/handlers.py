"""One function per consumed event type. Orders and deliveries are copied in as they happen; a return is
decided, received, inspected and refunded under a lock on its order's row, so two returns of one order (and
two workers) can never both spend the same units or the same money."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderCancelled
from schemas.returns import (
    InspectedLine,
    RefundIssued,
    RefundLine,
    ReturnAuthorised,
    ReturnInspected,
    ReturnParcelInspected,
    ReturnParcelReceived,
    ReturnReceived,
    ReturnRejected,
    ReturnRequested,
)
from schemas.tracking import ShipmentStatusChanged
from schemas.warehouse import StockReserved
from services.common.db import UnitOfWork
from services.common.handling import Context, Emit, Emitter, Handlers
from services.common.logging import get_logger
from services.returns import tables
from services.returns.domain.inspection import (
    Inspected,
    InspectionError,
    inspect,
    ready_to_refund,
    receive,
    rma_number,
    settled,
    waiting,
)
from services.returns.domain.refunds import History, PaidLine, PaidOrder, ReturnedUnits, money, refund
from services.returns.domain.window import OrderedLine, ReturnCase, ReturnPolicy, refusals
from services.returns.policies import policy_for
from services.returns.settings import ReturnsSettings

log = get_logger(__name__)
handlers = Handlers()


@handlers.on
def order_accepted(uow: UnitOfWork, event: Event[OrderAccepted], ctx: Context[ReturnsSettings]) -> list[Emit]:
    order = event.payload
    uow.session.execute(pg_insert(tables.orders).values(
        shop_id=order.shop_id, order_id=order.order_id, currency=order.currency,
        lines=[{"line_id": line.line_id, "sku": line.sku, "quantity": line.quantity,
                "unit_price": str(line.unit_price)} for line in order.lines],
        discount=order.discount_total, shipping=order.shipping_total, status="accepted",
        accepted_at=order.accepted_at).on_conflict_do_nothing())
    return []


@handlers.on
def order_cancelled(uow: UnitOfWork, event: Event[OrderCancelled], ctx: Context[ReturnsSettings]) -> list[Emit]:
    cancel = event.payload
    o = tables.orders
    uow.session.execute(update(o).where(o.c.shop_id == cancel.shop_id, o.c.order_id == cancel.order_id)
                        .values(status="cancelled"))
    return []


@handlers.on
def stock_reserved(uow: UnitOfWork, event: Event[StockReserved], ctx: Context[ReturnsSettings]) -> list[Emit]:
    """Which lines travel in which shipment: a delivered shipment makes exactly those units returnable."""
    reserved = event.payload
    units: dict[str, int] = {}
    for line in reserved.lines:
        units[line.line_id] = units.get(line.line_id, 0) + line.quantity
    s = tables.shipments
    uow.session.execute(pg_insert(s).values(shipment_id=reserved.shipment_id, shop_id=reserved.shop_id,
                                            order_id=reserved.order_id, lines=units)
                        .on_conflict_do_update(index_elements=["shipment_id"], set_={"lines": units}))
    return []


@handlers.on
def shipment_status_changed(uow: UnitOfWork, event: Event[ShipmentStatusChanged],
                            ctx: Context[ReturnsSettings]) -> list[Emit]:
    changed = event.payload
    if changed.status != "delivered":
        return []
    s = tables.shipments
    uow.session.execute(pg_insert(s).values(shipment_id=changed.shipment_id, shop_id=changed.shop_id,
                                            order_id=changed.order_id,
                                            delivered_at=changed.changed_at)
                        .on_conflict_do_update(index_elements=["shipment_id"],
                                               set_={"delivered_at": changed.changed_at}))
    return []


def _locked_order(session: Session, shop_id: str, order_id: str) -> Any | None:
    o = tables.orders
    return session.execute(select(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id).with_for_update()
                           ).first()


def _delivered(session: Session, shop_id: str, order_id: str) -> tuple[datetime | None, dict[str, int]]:
    """When the last delivered shipment arrived, and the units delivered per line."""
    s = tables.shipments
    rows = session.execute(select(s.c.lines, s.c.delivered_at).where(
        s.c.shop_id == shop_id, s.c.order_id == order_id, s.c.delivered_at.is_not(None))).all()
    units: dict[str, int] = {}
    for lines, _ in rows:
        for line_id, n in (lines or {}).items():
            units[line_id] = units.get(line_id, 0) + n
    return max((at for _, at in rows), default=None), units


def _already_returned(session: Session, shop_id: str, order_id: str) -> dict[str, int]:
    """Units of each line in returns that were not rejected: returned, or authorised and on their way."""
    r = tables.returns
    units: dict[str, int] = {}
    for lines in session.execute(select(r.c.lines).where(r.c.shop_id == shop_id, r.c.order_id == order_id,
                                                         r.c.status != "rejected")).scalars():
        for line in lines:
            units[line["line_id"]] = units.get(line["line_id"], 0) + line["quantity"]
    return units


def _decide(session: Session, request: ReturnRequested, order: Any | None, policy: ReturnPolicy) -> list[str]:
    if order is None:
        return [f"shop {request.shop_id!r} has no order {request.order_id!r} that was delivered"]
    if order.status == "cancelled":
        return ["the order was cancelled"]
    doubled = [line_id for line_id, n in Counter(line.line_id for line in request.lines).items() if n > 1]
    if doubled:
        return [f"line {line_id!r} appears more than once; send one entry per line" for line_id in doubled]
    delivered_at, delivered = _delivered(session, request.shop_id, request.order_id)
    skus = {line["line_id"]: line["sku"] for line in order.lines}
    case = ReturnCase(
        requested_at=request.requested_at, delivered_at=delivered_at,
        lines={line_id: OrderedLine(sku, delivered.get(line_id, 0)) for line_id, sku in skus.items()},
        already=_already_returned(session, request.shop_id, request.order_id))
    asked = [ReturnedUnits(line.line_id, line.quantity, line.reason, line.opened) for line in request.lines]
    reasons = refusals(case, asked, policy)
    reasons += [f"line {line.line_id!r} is {skus[line.line_id]}, not {line.sku}" for line in request.lines
                if line.line_id in skus and skus[line.line_id] != line.sku]
    return reasons


@handlers.on
def return_requested(uow: UnitOfWork, event: Event[ReturnRequested], ctx: Context[ReturnsSettings]) -> list[Emit]:
    """Authorised with an RMA number, or rejected with every reason; a repeated request changes nothing."""
    request = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    order = _locked_order(session, request.shop_id, request.order_id)
    r = tables.returns
    if session.execute(select(r.c.return_id).where(r.c.shop_id == request.shop_id,
                                                   r.c.return_id == request.return_id)).first() is not None:
        log.info("returns.duplicate_request", shop_id=request.shop_id, return_id=request.return_id)
        return []
    reasons = _decide(session, request, order, policy_for(session, request.shop_id, ctx.settings))
    row: dict[str, Any] = {
        "shop_id": request.shop_id, "return_id": request.return_id, "order_id": request.order_id,
        "lines": [line.model_dump(mode="json") for line in request.lines], "requested_at": request.requested_at,
        "updated_at": ctx.now}
    if reasons:
        session.execute(pg_insert(r).values(**row, status="rejected", reasons=reasons))
        emitter.emit(ReturnRejected(
            shop_id=request.shop_id, return_id=request.return_id, order_id=request.order_id, reasons=reasons,
            rejected_at=ctx.now))
        return emitter.emits
    rma = rma_number(secrets.randbits(60))
    session.execute(pg_insert(r).values(**row, status="authorised", rma=rma))
    emitter.emit(ReturnAuthorised(
        shop_id=request.shop_id, return_id=request.return_id, order_id=request.order_id, rma=rma, lines=request.lines,
        authorised_at=ctx.now))
    return emitter.emits


def _locked_return(session: Session, rma: str) -> tuple[Any, Any]:
    """The order and the return, the order's row locked first (the lock order of every refund)."""
    r = tables.returns
    found = session.execute(select(r.c.shop_id, r.c.order_id).where(r.c.rma == rma)).first()
    if found is None:
        raise InspectionError(f"no authorised return has RMA {rma!r}")
    order = _locked_order(session, found.shop_id, found.order_id)
    row = session.execute(select(r).where(r.c.rma == rma).with_for_update()).one()
    if row.status == "refunded":
        raise InspectionError(f"return {rma} is closed: its refund was issued; open a new return for more units")
    return order, row


def _authorised(row: Any) -> dict[str, int]:
    return {line["line_id"]: line["quantity"] for line in row.lines}


@handlers.on
def return_received(uow: UnitOfWork, event: Event[ReturnParcelReceived], ctx: Context[ReturnsSettings]) -> list[Emit]:
    scan = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    _, row = _locked_return(session, scan.rma)
    received = receive(_authorised(row), row.received, [(line.line_id, line.quantity) for line in scan.lines])
    r = tables.returns
    session.execute(update(r).where(r.c.rma == row.rma).values(
        received=received, status="received" if row.status == "authorised" else row.status, updated_at=ctx.now,
        version=r.c.version + 1))
    emitter.emit(ReturnReceived(
        shop_id=row.shop_id, return_id=row.return_id, order_id=row.order_id, rma=scan.rma,
        warehouse_id=scan.warehouse_id, lines=scan.lines, received_at=scan.received_at))
    return emitter.emits


@handlers.on
def return_inspected(uow: UnitOfWork, event: Event[ReturnParcelInspected], ctx: Context[ReturnsSettings]) -> list[Emit]:
    """Records the dispositions, tells the warehouse what to restock, and refunds once nothing is left to
    inspect or process."""
    scan = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    order, row = _locked_return(session, scan.rma)
    authorised = _authorised(row)
    dispositions = inspect(authorised, row.dispositions,
                           [Inspected(line.line_id, line.quantity, line.disposition) for line in scan.lines])
    skus = {line["line_id"]: line["sku"] for line in row.lines}
    wrong = [line.line_id for line in scan.lines if skus[line.line_id] != line.sku]
    if wrong:
        raise InspectionError(f"line(s) {', '.join(wrong)} of {scan.rma}: the scanned SKU is not the one returned")
    received = dict(row.received)  # an inspected unit was received, scanned in or not
    for line_id, counts in dispositions.items():
        received[line_id] = max(received.get(line_id, 0), sum(counts.values()))
    lines = [InspectedLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity, disposition=line.disposition,
                           restock_warehouse_id=(line.restock_warehouse_id or scan.warehouse_id)
                           if line.disposition == "restock" else None) for line in scan.lines]
    emitter.emit(ReturnInspected(
        shop_id=row.shop_id, return_id=row.return_id, order_id=row.order_id, rma=scan.rma,
        warehouse_id=scan.warehouse_id, lines=lines, inspected_at=scan.inspected_at))
    status = "awaiting_processing" if waiting(dispositions) else "received"
    if ready_to_refund(received, dispositions):
        _issue_refund(session, emitter, order, row, dispositions, ctx)
        status = "refunded"
    r = tables.returns
    session.execute(update(r).where(r.c.rma == row.rma).values(
        received=received, dispositions=dispositions, status=status, updated_at=ctx.now, version=r.c.version + 1))
    return emitter.emits


def _history(session: Session, shop_id: str, order_id: str) -> History:
    f = tables.refunds
    units: dict[str, int] = {}
    shipping, paid = False, 0
    for row in session.execute(select(f.c.units, f.c.shipping_refunded, f.c.amount_cents)
                               .where(f.c.shop_id == shop_id, f.c.order_id == order_id)):
        for line_id, n in row.units.items():
            units[line_id] = units.get(line_id, 0) + n
        shipping = shipping or row.shipping_refunded
        paid += row.amount_cents
    return History(units, shipping, paid)


def _issue_refund(session: Session, emitter: Emitter, order: Any, row: Any, dispositions: dict[str, dict[str, int]],
                  ctx: Context[ReturnsSettings]) -> None:
    paid = PaidOrder(tuple(PaidLine(line["line_id"], line["quantity"], Decimal(line["unit_price"]))
                           for line in order.lines), discount=order.discount, shipping=order.shipping)
    asked = {line["line_id"]: line for line in row.lines}
    returned = [ReturnedUnits(line_id, n, asked[line_id]["reason"], asked[line_id]["opened"])
                for line_id, n in sorted(settled(dispositions).items())]
    policy = policy_for(session, row.shop_id, ctx.settings)
    result = refund(paid, _history(session, row.shop_id, row.order_id), returned, policy.restocking_fee_pct)
    refund_id = "RF-" + row.rma.removeprefix("RMA-")
    inserted = session.execute(pg_insert(tables.refunds).values(
        refund_id=refund_id, shop_id=row.shop_id, return_id=row.return_id, order_id=row.order_id,
        amount_cents=result.total_cents,
        shipping_cents=result.shipping_cents, fee_cents=result.fee_cents,
        shipping_refunded=result.shipping_cents > 0,
        units={item.line_id: item.quantity for item in returned},
        lines=[{"line_id": line.line_id, "quantity": line.quantity, "gross_cents": line.gross_cents,
                "fee_cents": line.fee_cents} for line in result.lines],
        explanation=list(result.explanation), issued_at=ctx.now).on_conflict_do_nothing().returning(
        tables.refunds.c.refund_id)).first()
    if inserted is None:  # the unique (shop_id, return_id) says this return was refunded already: never twice
        log.warning("returns.refund_already_issued", rma=row.rma)
        return
    emitter.emit(RefundIssued(
        refund_id=refund_id, shop_id=row.shop_id, return_id=row.return_id, order_id=row.order_id, rma=row.rma,
        currency=order.currency,
        lines=[RefundLine(line_id=line.line_id, quantity=line.quantity, amount=money(line.net_cents),
                          restocking_fee=money(line.fee_cents)) for line in result.lines],
        shipping=money(result.shipping_cents), restocking_fee=money(result.fee_cents),
        amount=money(result.total_cents), explanation=list(result.explanation), issued_at=ctx.now))
