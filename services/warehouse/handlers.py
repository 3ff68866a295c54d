"""One function per consumed event type: (unit of work, event, context) -> events to emit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schemas.base import Payload
from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderCancelled
from schemas.returns import ReturnInspected
from schemas.warehouse import ParcelPacked, PickConfirmed, PickShort, StockCounted, StockReceived
from services.common.db import Rows, UnitOfWork
from services.common.handling import Context, Emit, Emitter, Handlers
from services.common.logging import get_logger
from services.warehouse import allocating, packing, picking, store, tables
from services.warehouse.domain.allocation import Line, Policy
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.domain.stock import on_hand_after_count
from services.warehouse.settings import WarehouseSettings

log = get_logger(__name__)
handlers = Handlers()


def _policies(session: Session, shop_ids: set[str], default: str) -> dict[str, Policy]:
    found = dict(session.execute(_POLICIES, {"shops": sorted(shop_ids)}).all())
    return {shop: Policy(found.get(shop, default)) for shop in shop_ids}


_POLICIES = select(tables.shop_policies.c.shop_id, tables.shop_policies.c.policy).where(
    tables.shop_policies.c.shop_id.in_(bindparam("shops", expanding=True)))
"""Made once: a statement a batch runs, built per call, costs SQLAlchemy a cache key each time."""


_ORDER_ROWS = Rows(tables.orders, ("order_id", "shop_id", "policy", "status", "latitude", "longitude", "lines",
                                   "delivery", "accepted_at"))
_NEW_ORDERS = _ORDER_ROWS.statement.on_conflict_do_nothing().returning(tables.orders.c.shop_id,
                                                                      tables.orders.c.order_id)


@handlers.on
def allocate_orders(uow: UnitOfWork, events: Sequence[Event[OrderAccepted]],
                    ctx: Context[WarehouseSettings]) -> list[Emit]:
    """Batched: orders in the batch are allocated in offset order against one view of the stock."""
    session = uow.session
    accepted = [(e, e.payload) for e in events]
    policies = _policies(session, {o.shop_id for _, o in accepted}, ctx.settings.warehouse_default_policy)
    rows = [{"order_id": o.order_id, "shop_id": o.shop_id, "policy": policies[o.shop_id].value, "status": "open",
             "latitude": o.delivery_address.latitude, "longitude": o.delivery_address.longitude,
             "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity} for x in o.lines],
             "delivery": {"address": e.envelope.payload["delivery_address"],  # validated, as received
                          "window": e.envelope.payload["delivery_window"]},
             "accepted_at": o.accepted_at} for e, o in accepted]
    inserted = {(shop, order) for shop, order in _ORDER_ROWS.write(session, rows, _NEW_ORDERS)}
    demands, emitters = [], []
    for event, order in accepted:
        if (order.shop_id, order.order_id) not in inserted:
            log.warning("order.already_allocated", shop_id=order.shop_id, order_id=order.order_id,
                        event_id=str(event.event_id))
            continue
        inserted.discard((order.shop_id, order.order_id))  # a second copy later in this batch is not allocated again
        demands.append(allocating.Demand(
            order.shop_id, order.order_id, tuple(Line(x.line_id, x.sku, x.quantity) for x in order.lines),
            (float(order.delivery_address.latitude or 0), float(order.delivery_address.longitude or 0)),
            policies[order.shop_id]))
        emitters.append(ctx.emitter(event))
    plans, states = allocating.plan_and_reserve(session, demands, ctx.now)
    allocating.record(session, demands, plans, emitters, ctx.now, replaces_backorders=False, new_orders=True)
    if emitters:
        store.check_low(session, [], emitters[0], known=states)
    return [emit for e in emitters for emit in e.emits]


@handlers.on
def release_order(uow: UnitOfWork, event: Event[OrderCancelled], ctx: Context[WarehouseSettings]) -> list[Emit]:
    """A confirmed cancellation: open shipments give their stock back, backorders are dropped, and the
    freed units go to whoever waits for them."""
    cancelled = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    o, s, line, b = tables.orders, tables.shipments, tables.shipment_lines, tables.backorders
    shop_id, order_id = cancelled.shop_id, cancelled.order_id
    order = session.execute(select(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id)
                            .with_for_update()).first()
    if order is None or order.status == "cancelled":
        log.info("cancellation.nothing_held", shop_id=shop_id, order_id=order_id, event_id=str(event.event_id))
        return []
    session.execute(update(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id).values(status="cancelled"))
    session.execute(delete(b).where(b.c.shop_id == shop_id, b.c.order_id == order_id))
    open_ids = list(session.execute(
        select(s.c.shipment_id).where(s.c.shop_id == shop_id, s.c.order_id == order_id,
                                      s.c.status.in_(store.OPEN_SHIPMENT))
        .order_by(s.c.shipment_id).with_for_update()).scalars())
    released: dict[store.Key, int] = {}
    for warehouse_id, sku, quantity in session.execute(
            select(s.c.warehouse_id, line.c.sku, line.c.quantity).select_from(line.join(s))
            .where(s.c.shipment_id.in_(open_ids))):
        released[(warehouse_id, sku)] = released.get((warehouse_id, sku), 0) - quantity
    if open_ids:
        session.execute(update(s).where(s.c.shipment_id.in_(open_ids)).values(status="cancelled"))
    store.lock(session, released)
    store.change_reserved(session, released, ctx.now)
    log.info("order.released", shop_id=shop_id, order_id=order_id, shipments=open_ids,
             units=-sum(released.values()), event_id=str(event.event_id))
    allocating.fill_backorders(session, {sku for _, sku in released}, emitter, ctx.now)
    store.check_low(session, released, emitter)
    return emitter.emits


def _require_bin(session: Session, warehouse_id: str, bin_id: str) -> None:
    b = tables.bins
    if session.execute(select(b.c.bin_id).where(b.c.warehouse_id == warehouse_id, b.c.bin_id == bin_id)).first() is None:
        raise ScanRejected(f"bin {bin_id!r} is not in the layout of warehouse {warehouse_id!r}")


@handlers.on
def receive_stock(uow: UnitOfWork, event: Event[StockReceived], ctx: Context[WarehouseSettings]) -> list[Emit]:
    received, emitter = event.payload, ctx.emitter(event)
    _add_stock(uow.session, emitter, received.warehouse_id, received.sku, received.quantity, received.bin,
               "received", event, received.reference)
    return emitter.emits


@handlers.on
def restock_return(uow: UnitOfWork, event: Event[ReturnInspected], ctx: Context[WarehouseSettings]) -> list[Emit]:
    """Returned units inspected as fit for sale go back on the shelf (the SKU's bin in the chosen warehouse)
    and, like any stock that arrives, to whoever waits for them."""
    inspected, emitter = event.payload, ctx.emitter(event)
    units: dict[tuple[str, str], int] = {}
    for line in inspected.lines:
        if line.disposition == "restock":
            key = (line.restock_warehouse_id or inspected.warehouse_id, line.sku)
            units[key] = units.get(key, 0) + line.quantity
    for (warehouse_id, sku), quantity in sorted(units.items()):  # the global lock order
        _add_stock(uow.session, emitter, warehouse_id, sku, quantity, None, "returned", event, inspected.rma)
    return emitter.emits


def _add_stock(session: Session, emitter: Emitter, warehouse_id: str, sku: str, quantity: int, bin_id: str | None,
               reason: str, event: Event[Payload], reference: str | None) -> None:
    key = (warehouse_id, sku)
    if session.execute(select(tables.warehouses.c.warehouse_id)
                       .where(tables.warehouses.c.warehouse_id == warehouse_id)).first() is None:
        raise ScanRejected(f"warehouse_id {warehouse_id!r} is not a known warehouse")
    row = store.locked_row(session, *key)
    if bin_id is not None:
        _require_bin(session, warehouse_id, bin_id)
    if row is None:
        if bin_id is None:
            raise ScanRejected(f"sku {sku!r} has no bin in warehouse {warehouse_id!r} yet; "
                               "send stock.received with a bin")
        session.execute(pg_insert(tables.stock).values(warehouse_id=warehouse_id, sku=sku, bin_id=bin_id,
                                                        updated_at=emitter.now))
    elif bin_id is not None and bin_id != row.bin_id:
        session.execute(update(tables.stock).where(tables.stock.c.warehouse_id == warehouse_id,
                                                   tables.stock.c.sku == sku).values(bin_id=bin_id))
    store.change_on_hand(session, {key: (quantity, 0)}, reason, emitter.now, event.event_id, reference)
    allocating.fill_backorders(session, [sku], emitter, emitter.now)
    store.check_low(session, [key], emitter)


@handlers.on
def count_stock(uow: UnitOfWork, event: Event[StockCounted], ctx: Context[WarehouseSettings]) -> list[Emit]:
    """A count of the bin is the truth: on_hand follows it; if it no longer covers every promise, the newest
    promises no picker holds yet are taken back and allocated elsewhere."""
    counted = event.payload
    session, emitter = uow.session, ctx.emitter(event)
    key = (counted.warehouse_id, counted.sku)
    row = store.locked_row(session, *key)
    if row is None:
        raise ScanRejected(f"sku {counted.sku!r} is not stocked in warehouse {counted.warehouse_id!r}; "
                           "receive it first")
    if counted.bin is not None and counted.bin != row.bin_id:
        raise ScanRejected(f"sku {counted.sku!r} lives in bin {row.bin_id!r} of {counted.warehouse_id!r}, "
                           f"not {counted.bin!r}")
    on_hand = on_hand_after_count(counted.counted_quantity,
                                  store.picked_not_packed(session, counted.warehouse_id, counted.sku))
    picking.correct_on_hand(session, key, row.on_hand, row.reserved, on_hand, "counted", event, emitter, ctx.now)
    if on_hand > row.on_hand:
        allocating.fill_backorders(session, [counted.sku], emitter, ctx.now)
    store.check_low(session, [key], emitter)
    return emitter.emits


@handlers.on
def confirm_pick(uow: UnitOfWork, event: Event[PickConfirmed], ctx: Context[WarehouseSettings]) -> list[Emit]:
    picking.confirm(uow.session, event.payload)
    return []


@handlers.on
def short_pick(uow: UnitOfWork, event: Event[PickShort], ctx: Context[WarehouseSettings]) -> list[Emit]:
    emitter = ctx.emitter(event)
    picking.short(uow.session, event.payload, event, emitter, ctx.now)
    return emitter.emits


@handlers.on
def pack_parcel(uow: UnitOfWork, event: Event[ParcelPacked], ctx: Context[WarehouseSettings]) -> list[Emit]:
    emitter = ctx.emitter(event)
    packing.pack(uow.session, event.payload, event, emitter, ctx.now)
    return emitter.emits
