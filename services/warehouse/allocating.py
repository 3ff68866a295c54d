"""Allocation against the database: plan with the pure allocator, lock what the plans take, re-plan with
fresh stock when another worker got there first, then reserve with conditional updates and record the
shipments and backorders the plans describe, announcing them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.base import Payload
from schemas.envelope import Event
from schemas.registry import order_key
from schemas.warehouse import OrderBackordered, StockReserved
from services.common.logging import get_logger
from services.warehouse.domain.allocation import Line, Plan, Policy, Site, allocate
from services.warehouse.store import Key, Order, OrderId, StockState, Work

log = get_logger(__name__)
SHIPMENT_IDS = uuid.UUID("6b1c9a52-0d8e-4f0a-9a57-3c1e4a0b7f21")


@dataclass(frozen=True, slots=True)
class Demand:
    """Lines of one order still to allocate, and what allocation needs to know about the order."""

    shop_id: str
    order_id: str
    lines: tuple[Line, ...]
    customer: tuple[float, float]
    policy: Policy

    @property
    def order(self) -> OrderId:
        return (self.shop_id, self.order_id)


def demand_for(order: Order, lines: Sequence[Line]) -> Demand:
    return Demand(order.shop_id, order.order_id, tuple(lines), order.customer, order.policy)


def plan_and_reserve(uow: Work, demands: Sequence[Demand]) -> tuple[list[Plan], list[StockState]]:
    """Plans for `demands`, in order (earlier demands get stock first), with their stock reserved; and the
    new state of the stock rows they reserved.

    The first plans use availability read without locks. The rows they would take are then locked in the
    global order and read again; if another worker took units meanwhile (a lost race), every plan is made
    again with the fresh figures, locking any new rows, until the plans fit what is locked."""
    if not demands:
        return [], []
    store = uow.store
    sites = store.active_sites()
    view = store.available({line.sku for d in demands for line in d.lines})
    locked: set[Key] = set()
    for attempt in range(1, 10_000):
        plans, needed = _plan_all(demands, sites, view)
        fresh = store.lock(needed.keys() - locked)
        locked |= fresh.keys()
        view.update(fresh)
        lost = sorted(k for k, units in needed.items() if units > view.get(k, 0))
        if not lost:
            return plans, store.change_reserved(needed, uow.now)
        log.info("allocation.replanned", attempt=attempt, lost_rows=[f"{w}/{s}" for w, s in lost[:10]],
                 orders=[order_key(*d.order) for d in demands[:10]])
    raise AssertionError("allocation did not settle")  # pragma: no cover: each round locks at least one row


def _plan_all(demands: Sequence[Demand], sites: list[Site], view: dict[Key, int]
              ) -> tuple[list[Plan], dict[Key, int]]:
    working = dict(view)
    plans: list[Plan] = []
    needed: dict[Key, int] = {}
    for demand in demands:
        plan = allocate(demand.lines, demand.customer, sites, working, demand.policy)
        for key, units in plan.taken().items():
            working[key] -= units
            needed[key] = needed.get(key, 0) + units
        plans.append(plan)
    return plans, needed


def shipment_id(order: OrderId, number: int) -> str:
    """Stable and short whatever the ids' length: SH- and 20 hex digits of a uuid5."""
    return "SH-" + uuid.uuid5(SHIPMENT_IDS, f"{order_key(*order)}#{number}").hex[:20].upper()


def record(uow: Work, demands: Sequence[Demand], plans: Sequence[Plan], causes: Sequence[Event[Payload]], *,
           replaces_backorders: bool, new_orders: bool = False) -> None:
    """Write shipments for each plan and announce stock.reserved per shipment, on behalf of its demand's cause.

    `replaces_backorders`: the demands are an order's backordered lines being filled, so the plan's
    remainder replaces them (keeping their age); otherwise the remainder is a new backorder and is
    announced with order.backordered. `new_orders`: the orders have no shipments yet."""
    store, now = uow.store, uow.now
    counts: dict[OrderId, int] = {} if new_orders else store.shipment_counts(d.order for d in demands)
    shipment_rows: list[dict[str, object]] = []
    line_rows: list[dict[str, object]] = []
    backorder_rows: list[dict[str, object]] = []
    for demand, plan, cause in zip(demands, plans, causes, strict=True):
        events = uow.events(cause)
        for shipment in plan.shipments:
            counts[demand.order] = counts.get(demand.order, 0) + 1
            sid = shipment_id(demand.order, counts[demand.order])
            shipment_rows.append({"shipment_id": sid, "shop_id": demand.shop_id, "order_id": demand.order_id,
                                  "warehouse_id": shipment.warehouse_id, "status": "reserved",
                                  "rule": plan.rule.value, "explanation": plan.explanation, "reserved_at": now})
            line_rows.extend({"shipment_id": sid, "line_id": line.line_id, "sku": line.sku,
                              "quantity": line.quantity} for line in shipment.lines)
            events.emit(StockReserved.model_validate({
                "shop_id": demand.shop_id, "order_id": demand.order_id, "shipment_id": sid,
                "warehouse_id": shipment.warehouse_id, "lines": _lines(shipment.lines), "rule": plan.rule.value,
                "explanation": plan.explanation, "reserved_at": now}))
        if replaces_backorders:
            if plan.shipments:
                store.set_backordered(demand.order, {x.line_id: x.quantity for x in plan.backordered},
                                      [line.line_id for line in demand.lines])
        elif plan.backordered:
            backorder_rows.extend({"shop_id": demand.shop_id, "order_id": demand.order_id, "line_id": x.line_id,
                                   "sku": x.sku, "quantity": x.quantity, "since": now} for x in plan.backordered)
            events.emit(OrderBackordered.model_validate({
                "shop_id": demand.shop_id, "order_id": demand.order_id, "lines": _lines(plan.backordered),
                "reason": plan.explanation, "backordered_at": now}))
    store.add_shipments(shipment_rows, line_rows)
    store.add_backorders(backorder_rows)


def _lines(lines: Iterable[Line]) -> list[dict[str, object]]:
    """Event lines as plain data: one validation of the whole event is much cheaper than one per line."""
    return [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity} for x in lines]


def fill_backorders(uow: Work, skus: Iterable[str], cause: Event[Payload], limit: int = 500) -> int:
    """Stock of `skus` became available: allocate waiting orders, oldest backorder first. Returns how many
    orders got at least one new shipment."""
    store = uow.store
    wanted = sorted(set(skus))
    waiting = store.waiting_for(wanted, limit) if wanted else []
    orders = store.locked_open_orders(waiting) if waiting else {}  # order rows first, then their backorders
    if not orders:
        return 0
    lines = store.locked_backorders(orders)
    demands = [demand_for(orders[order], order_lines) for order, order_lines in lines.items()]
    plans, _ = plan_and_reserve(uow, demands)
    filled = [(d, p) for d, p in zip(demands, plans, strict=True) if p.shipments]
    record(uow, [d for d, _ in filled], [p for _, p in filled], [cause] * len(filled), replaces_backorders=True)
    if filled:
        log.info("backorders.filled", orders=[order_key(*d.order) for d, _ in filled][:20], count=len(filled))
    return len(filled)


def reallocate(uow: Work, releases: Sequence[tuple[OrderId, Line]], cause: Event[Payload]) -> None:
    """Lines taken back from a warehouse (short pick, recount) are allocated again, elsewhere if need be;
    what no warehouse has becomes a backorder, announced with order.backordered."""
    if not releases:
        return
    merged: dict[OrderId, dict[tuple[str, str], int]] = {}
    for order, line in releases:  # one line may come back from two shipments
        per_line = merged.setdefault(order, {})
        per_line[(line.line_id, line.sku)] = per_line.get((line.line_id, line.sku), 0) + line.quantity
    by_order = {order: [Line(line_id, sku, q) for (line_id, sku), q in per_line.items()]
                for order, per_line in merged.items()}
    rows = uow.store.locked_open_orders(by_order)
    demands = [demand_for(rows[order], lines) for order, lines in by_order.items() if order in rows]
    plans, _ = plan_and_reserve(uow, demands)
    record(uow, demands, plans, [cause] * len(demands), replaces_backorders=False)
