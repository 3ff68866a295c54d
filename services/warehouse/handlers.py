"""One function per consumed event type: (unit of work, event, context) -> events to emit."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.base import Payload
from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderCancelled
from schemas.returns import ReturnInspected
from schemas.warehouse import ParcelPacked, PickConfirmed, PickShort, StockCounted, StockReceived
from services.common.handling import Context, Handlers
from services.common.logging import get_logger
from services.warehouse import allocating, packing, picking, stock_alerts
from services.warehouse.domain.allocation import Line, Policy
from services.warehouse.domain.errors import ScanRejected
from services.warehouse.domain.stock import on_hand_after_count
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import Key, Work

log = get_logger(__name__)
handlers = Handlers()


@handlers.on
def allocate_orders(uow: Work, events: Sequence[Event[OrderAccepted]], ctx: Context[WarehouseSettings]) -> None:
    """Batched: orders in the batch are allocated in offset order against one view of the stock."""
    accepted = [(e, e.payload) for e in events]
    shops = {o.shop_id for _, o in accepted}
    chosen = uow.store.policies(shops)
    policies = {shop: Policy(chosen.get(shop, ctx.settings.warehouse_default_policy)) for shop in shops}
    inserted = uow.store.add_orders([
        {"order_id": o.order_id, "shop_id": o.shop_id, "policy": policies[o.shop_id].value, "status": "open",
         "latitude": o.delivery_address.latitude, "longitude": o.delivery_address.longitude,
         "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity} for x in o.lines],
         "delivery": {"address": e.envelope.payload["delivery_address"],  # validated, as received
                      "window": e.envelope.payload["delivery_window"]},
         "accepted_at": o.accepted_at} for e, o in accepted])
    demands, causes = [], []
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
        causes.append(event)
    plans, states = allocating.plan_and_reserve(uow, demands)
    allocating.record(uow, demands, plans, causes, replaces_backorders=False, new_orders=True)
    if causes:
        stock_alerts.check_low(uow, [], causes[0], known=states)


@handlers.on
def release_order(uow: Work, event: Event[OrderCancelled], ctx: Context[WarehouseSettings]) -> None:
    """A confirmed cancellation: open shipments give their stock back, backorders are dropped, and the
    freed units go to whoever waits for them."""
    cancelled = event.payload
    order = (cancelled.shop_id, cancelled.order_id)
    held = uow.store.locked_order(order)
    if held is None or held.status == "cancelled":
        log.info("cancellation.nothing_held", shop_id=order[0], order_id=order[1], event_id=str(event.event_id))
        return
    shipments, units = uow.store.cancel(order)
    released: dict[Key, int] = {key: -n for key, n in units.items()}
    uow.store.lock(released)
    uow.store.change_reserved(released, uow.now)
    log.info("order.released", shop_id=order[0], order_id=order[1], shipments=shipments,
             units=-sum(released.values()), event_id=str(event.event_id))
    allocating.fill_backorders(uow, {sku for _, sku in released}, event)
    stock_alerts.check_low(uow, released, event)


@handlers.on
def receive_stock(uow: Work, event: Event[StockReceived], ctx: Context[WarehouseSettings]) -> None:
    received = event.payload
    _add_stock(uow, received.warehouse_id, received.sku, received.quantity, received.bin, "received", event,
               received.reference)


@handlers.on
def restock_return(uow: Work, event: Event[ReturnInspected], ctx: Context[WarehouseSettings]) -> None:
    """Returned units inspected as fit for sale go back on the shelf (the SKU's bin in the chosen warehouse)
    and, like any stock that arrives, to whoever waits for them."""
    inspected = event.payload
    units: dict[tuple[str, str], int] = {}
    for line in inspected.lines:
        if line.disposition == "restock":
            key = (line.restock_warehouse_id or inspected.warehouse_id, line.sku)
            units[key] = units.get(key, 0) + line.quantity
    for (warehouse_id, sku), quantity in sorted(units.items()):  # the global lock order
        _add_stock(uow, warehouse_id, sku, quantity, None, "returned", event, inspected.rma)


def _add_stock(uow: Work, warehouse_id: str, sku: str, quantity: int, bin_id: str | None, reason: str,
               event: Event[Payload], reference: str | None) -> None:
    store, key = uow.store, (warehouse_id, sku)
    if not store.is_warehouse(warehouse_id):
        raise ScanRejected(f"warehouse_id {warehouse_id!r} is not a known warehouse")
    row = store.locked_row(*key)
    if bin_id is not None and not store.has_bin(warehouse_id, bin_id):
        raise ScanRejected(f"bin {bin_id!r} is not in the layout of warehouse {warehouse_id!r}")
    if row is None:
        if bin_id is None:
            raise ScanRejected(f"sku {sku!r} has no bin in warehouse {warehouse_id!r} yet; "
                               "send stock.received with a bin")
        store.add_stock_row(warehouse_id, sku, bin_id, uow.now)
    elif bin_id is not None and bin_id != row.bin_id:
        store.move_to_bin(warehouse_id, sku, bin_id)
    store.change_on_hand({key: (quantity, 0)}, reason, uow.now, event.event_id, reference)
    allocating.fill_backorders(uow, [sku], event)
    stock_alerts.check_low(uow, [key], event)


@handlers.on
def count_stock(uow: Work, event: Event[StockCounted], ctx: Context[WarehouseSettings]) -> None:
    """A count of the bin is the truth: on_hand follows it; if it no longer covers every promise, the newest
    promises no picker holds yet are taken back and allocated elsewhere."""
    counted = event.payload
    key = (counted.warehouse_id, counted.sku)
    row = uow.store.locked_row(*key)
    if row is None:
        raise ScanRejected(f"sku {counted.sku!r} is not stocked in warehouse {counted.warehouse_id!r}; "
                           "receive it first")
    if counted.bin is not None and counted.bin != row.bin_id:
        raise ScanRejected(f"sku {counted.sku!r} lives in bin {row.bin_id!r} of {counted.warehouse_id!r}, "
                           f"not {counted.bin!r}")
    on_hand = on_hand_after_count(counted.counted_quantity, uow.store.picked_not_packed(*key))
    picking.correct_on_hand(uow, key, row.on_hand, row.reserved, on_hand, "counted", event)
    if on_hand > row.on_hand:
        allocating.fill_backorders(uow, [counted.sku], event)
    stock_alerts.check_low(uow, [key], event)


@handlers.on
def confirm_pick(uow: Work, event: Event[PickConfirmed], ctx: Context[WarehouseSettings]) -> None:
    picking.confirm(uow, event.payload)


@handlers.on
def short_pick(uow: Work, event: Event[PickShort], ctx: Context[WarehouseSettings]) -> None:
    picking.short(uow, event)


@handlers.on
def pack_parcel(uow: Work, event: Event[ParcelPacked], ctx: Context[WarehouseSettings]) -> None:
    packing.pack(uow, event)
