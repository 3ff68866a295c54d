"""One function per consumed event type. Orders and deliveries are copied in as they happen; a return is
decided, received, inspected and refunded under a lock on its order's row, so two returns of one order (and
two workers) can never both spend the same units or the same money."""

from __future__ import annotations

import secrets
from collections import Counter

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
from services.common.handling import Context, Handlers
from services.common.logging import get_logger
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
from services.returns.domain.refunds import ReturnedUnits, money, refund
from services.returns.domain.window import OrderedLine, ReturnCase, ReturnPolicy, refusals
from services.returns.settings import ReturnsSettings
from services.returns.store import Dispositions, OrderCopy, Return, Units, Work

log = get_logger(__name__)
handlers = Handlers()


@handlers.on
def order_accepted(uow: Work, event: Event[OrderAccepted], ctx: Context[ReturnsSettings]) -> None:
    uow.store.save_order(event.payload)


@handlers.on
def order_cancelled(uow: Work, event: Event[OrderCancelled], ctx: Context[ReturnsSettings]) -> None:
    uow.store.cancel_order(event.payload.shop_id, event.payload.order_id)


@handlers.on
def stock_reserved(uow: Work, event: Event[StockReserved], ctx: Context[ReturnsSettings]) -> None:
    """Which lines travel in which shipment: a delivered shipment makes exactly those units returnable."""
    reserved = event.payload
    units: Units = {}
    for line in reserved.lines:
        units[line.line_id] = units.get(line.line_id, 0) + line.quantity
    uow.store.shipment_lines(reserved.shipment_id, reserved.shop_id, reserved.order_id, units)


@handlers.on
def shipment_status_changed(uow: Work, event: Event[ShipmentStatusChanged],
                            ctx: Context[ReturnsSettings]) -> None:
    changed = event.payload
    if changed.status == "delivered":
        uow.store.shipment_delivered(changed.shipment_id, changed.shop_id, changed.order_id,
                                 changed.changed_at)


def _decide(uow: Work, request: ReturnRequested, order: OrderCopy | None,
            policy: ReturnPolicy) -> list[str]:
    if order is None:
        return [f"shop {request.shop_id!r} has no order {request.order_id!r} that was delivered"]
    if order.status == "cancelled":
        return ["the order was cancelled"]
    doubled = [line_id for line_id, n in Counter(line.line_id for line in request.lines).items() if n > 1]
    if doubled:
        return [f"line {line_id!r} appears more than once; send one entry per line" for line_id in doubled]
    delivered_at, delivered = uow.store.delivered(request.shop_id, request.order_id)
    case = ReturnCase(
        requested_at=request.requested_at, delivered_at=delivered_at,
        lines={line_id: OrderedLine(sku, delivered.get(line_id, 0)) for line_id, sku in order.skus.items()},
        already=uow.store.already_returned(request.shop_id, request.order_id))
    asked = [ReturnedUnits(line.line_id, line.quantity, line.reason, line.opened) for line in request.lines]
    reasons = refusals(case, asked, policy)
    reasons += [f"line {line.line_id!r} is {order.skus[line.line_id]}, not {line.sku}" for line in request.lines
                if line.line_id in order.skus and order.skus[line.line_id] != line.sku]
    return reasons


@handlers.on
def return_requested(uow: Work, event: Event[ReturnRequested], ctx: Context[ReturnsSettings]) -> None:
    """Authorised with an RMA number, or rejected with every reason; a repeated request changes nothing."""
    request, emitter = event.payload, uow.events(event)
    order = uow.store.lock_order(request.shop_id, request.order_id)
    if uow.store.return_exists(request.shop_id, request.return_id):
        log.info("returns.duplicate_request", shop_id=request.shop_id, return_id=request.return_id)
        return
    reasons = _decide(uow, request, order, uow.store.policy_for(request.shop_id, ctx.settings))
    rma = None if reasons else rma_number(secrets.randbits(60))
    uow.store.add_return(request.shop_id, request.return_id, request.order_id,
                     [line.model_dump(mode="json") for line in request.lines], request.requested_at, ctx.now,
                     rma=rma, reasons=reasons)
    ids = {"shop_id": request.shop_id, "return_id": request.return_id, "order_id": request.order_id}
    emitter.emit(ReturnAuthorised(**ids, rma=rma, lines=request.lines, authorised_at=ctx.now) if rma else
                 ReturnRejected(**ids, reasons=reasons, rejected_at=ctx.now))


def _closed(returned: Return) -> None:
    if returned.status == "refunded":
        raise InspectionError(f"return {returned.rma} is closed: its refund was issued; open a new return for more "
                              "units")


@handlers.on
def return_received(uow: Work, event: Event[ReturnParcelReceived], ctx: Context[ReturnsSettings]) -> None:
    scan, emitter = event.payload, uow.events(event)
    _, returned = uow.store.lock_return(scan.rma)
    _closed(returned)
    received = receive(returned.authorised, returned.received, [(line.line_id, line.quantity) for line in scan.lines])
    uow.store.update_return(scan.rma, ctx.now, received=received,
                        status="received" if returned.status == "authorised" else returned.status)
    emitter.emit(ReturnReceived(
        shop_id=returned.shop_id, return_id=returned.return_id, order_id=returned.order_id, rma=scan.rma,
        warehouse_id=scan.warehouse_id, lines=scan.lines, received_at=scan.received_at))


@handlers.on
def return_inspected(uow: Work, event: Event[ReturnParcelInspected],
                     ctx: Context[ReturnsSettings]) -> None:
    """Records the dispositions, tells the warehouse what to restock, and refunds once nothing is left to
    inspect or process."""
    scan, emitter = event.payload, uow.events(event)
    order, returned = uow.store.lock_return(scan.rma)
    _closed(returned)
    dispositions = inspect(returned.authorised, returned.dispositions,
                           [Inspected(line.line_id, line.quantity, line.disposition) for line in scan.lines])
    skus = {line["line_id"]: line["sku"] for line in returned.lines}
    wrong = [line.line_id for line in scan.lines if skus[line.line_id] != line.sku]
    if wrong:
        raise InspectionError(f"line(s) {', '.join(wrong)} of {scan.rma}: the scanned SKU is not the one returned")
    received = dict(returned.received)  # an inspected unit was received, scanned in or not
    for line_id, counts in dispositions.items():
        received[line_id] = max(received.get(line_id, 0), sum(counts.values()))
    lines = [InspectedLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity, disposition=line.disposition,
                           restock_warehouse_id=(line.restock_warehouse_id or scan.warehouse_id)
                           if line.disposition == "restock" else None) for line in scan.lines]
    emitter.emit(ReturnInspected(
        shop_id=returned.shop_id, return_id=returned.return_id, order_id=returned.order_id, rma=scan.rma,
        warehouse_id=scan.warehouse_id, lines=lines, inspected_at=scan.inspected_at))
    status = "awaiting_processing" if waiting(dispositions) else "received"
    if ready_to_refund(received, dispositions):
        _issue_refund(uow, event, order, returned, dispositions, ctx)
        status = "refunded"
    uow.store.update_return(scan.rma, ctx.now, status=status, received=received, dispositions=dispositions)


def _issue_refund(uow: Work, cause: Event[ReturnParcelInspected], order: OrderCopy, returned: Return,
                  dispositions: Dispositions, ctx: Context[ReturnsSettings]) -> None:
    asked = {line["line_id"]: line for line in returned.lines}
    units = [ReturnedUnits(line_id, n, asked[line_id]["reason"], asked[line_id]["opened"])
             for line_id, n in sorted(settled(dispositions).items())]
    policy = uow.store.policy_for(returned.shop_id, ctx.settings)
    result = refund(order.paid, uow.store.refund_history(returned.shop_id, returned.order_id), units,
                    policy.restocking_fee_pct)
    refund_id = "RF-" + returned.rma.removeprefix("RMA-")
    if not uow.store.add_refund(refund_id, returned, {
            "amount_cents": result.total_cents, "shipping_cents": result.shipping_cents,
            "fee_cents": result.fee_cents, "shipping_refunded": result.shipping_cents > 0,
            "units": {item.line_id: item.quantity for item in units},
            "lines": [{"line_id": line.line_id, "quantity": line.quantity, "gross_cents": line.gross_cents,
                       "fee_cents": line.fee_cents} for line in result.lines],
            "explanation": list(result.explanation)}, ctx.now):
        log.warning("returns.refund_already_issued", rma=returned.rma)
        return
    uow.events(cause).emit(RefundIssued(
        refund_id=refund_id, shop_id=returned.shop_id, return_id=returned.return_id, order_id=returned.order_id,
        rma=returned.rma, currency=order.currency,
        lines=[RefundLine(line_id=line.line_id, quantity=line.quantity, amount=money(line.net_cents),
                          restocking_fee=money(line.fee_cents)) for line in result.lines],
        shipping=money(result.shipping_cents), restocking_fee=money(result.fee_cents),
        amount=money(result.total_cents), explanation=list(result.explanation), issued_at=ctx.now))
