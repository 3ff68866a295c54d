"""Allocation against the database: plan with the pure allocator, lock what the plans take, re-plan with
fresh stock when another worker got there first, then reserve with conditional updates and record the
shipments and backorders the plans describe."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from schemas.registry import order_key
from schemas.warehouse import OrderBackordered, StockReserved
from services.common.db import Rows
from services.common.handling import Emitter
from services.common.logging import get_logger
from services.warehouse import store, tables
from services.warehouse.domain.allocation import Line, Plan, Policy, Site, allocate

log = get_logger(__name__)
SHIPMENT_IDS = uuid.UUID("6b1c9a52-0d8e-4f0a-9a57-3c1e4a0b7f21")
OrderId = tuple[str, str]
"""(shop_id, order_id): order ids are the shop's own, so only the pair names an order."""


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


def plan_and_reserve(session: Session, demands: Sequence[Demand], now: datetime
                     ) -> tuple[list[Plan], list[store.StockState]]:
    """Plans for `demands`, in order (earlier demands get stock first), with their stock reserved; and the
    new state of the stock rows they reserved.

    The first plans use availability read without locks. The rows they would take are then locked in the
    global order and read again; if another worker took units meanwhile (a lost race), every plan is made
    again with the fresh figures, locking any new rows, until the plans fit what is locked."""
    if not demands:
        return [], []
    sites = store.active_sites(session)
    view = store.available(session, {line.sku for d in demands for line in d.lines})
    locked: set[store.Key] = set()
    for attempt in range(1, 10_000):
        plans, needed = _plan_all(demands, sites, view)
        fresh = store.lock(session, needed.keys() - locked)
        locked |= fresh.keys()
        view.update(fresh)
        lost = sorted(k for k, units in needed.items() if units > view.get(k, 0))
        if not lost:
            return plans, store.change_reserved(session, needed, now)
        log.info("allocation.replanned", attempt=attempt, lost_rows=[f"{w}/{s}" for w, s in lost[:10]],
                 orders=[order_key(*d.order) for d in demands[:10]])
    raise AssertionError("allocation did not settle")  # pragma: no cover: each round locks at least one row


def _plan_all(demands: Sequence[Demand], sites: list[Site], view: dict[store.Key, int]
              ) -> tuple[list[Plan], dict[store.Key, int]]:
    working = dict(view)
    plans: list[Plan] = []
    needed: dict[store.Key, int] = {}
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


def record(session: Session, demands: Sequence[Demand], plans: Sequence[Plan], emitters: Sequence[Emitter],
           now: datetime, *, replaces_backorders: bool, new_orders: bool = False) -> None:
    """Write shipments for each plan and emit stock.reserved per shipment.

    `replaces_backorders`: the demands are an order's backordered lines being filled, so the plan's
    remainder replaces them (keeping their age); otherwise the remainder is a new backorder and is
    announced with order.backordered. `new_orders`: the orders have no shipments yet."""
    s = tables.shipments
    orders = sorted({d.order for d in demands})
    counts: dict[OrderId, int] = {} if new_orders else {
        (shop_id, order_id): n for shop_id, order_id, n in session.execute(
            select(s.c.shop_id, s.c.order_id, func.count()).where(tuple_(s.c.shop_id, s.c.order_id).in_(orders))
            .group_by(s.c.shop_id, s.c.order_id))}
    shipment_rows: list[dict[str, object]] = []
    line_rows: list[dict[str, object]] = []
    backorder_rows: list[dict[str, object]] = []
    for demand, plan, emitter in zip(demands, plans, emitters, strict=True):
        for shipment in plan.shipments:
            counts[demand.order] = counts.get(demand.order, 0) + 1
            sid = shipment_id(demand.order, counts[demand.order])
            shipment_rows.append({"shipment_id": sid, "shop_id": demand.shop_id, "order_id": demand.order_id,
                                  "warehouse_id": shipment.warehouse_id, "status": "reserved",
                                  "rule": plan.rule.value, "explanation": plan.explanation, "reserved_at": now})
            line_rows.extend({"shipment_id": sid, "line_id": line.line_id, "sku": line.sku,
                              "quantity": line.quantity} for line in shipment.lines)
            emitter.emit(StockReserved.model_validate({
                "shop_id": demand.shop_id, "order_id": demand.order_id, "shipment_id": sid, "warehouse_id": shipment.warehouse_id,
                "lines": _lines(shipment.lines), "rule": plan.rule.value, "explanation": plan.explanation,
                "reserved_at": now}))
        if replaces_backorders:
            if plan.shipments:
                _replace_backorders(session, demand, plan)
        elif plan.backordered:
            backorder_rows.extend({"shop_id": demand.shop_id, "order_id": demand.order_id, "line_id": x.line_id,
                                   "sku": x.sku, "quantity": x.quantity, "since": now} for x in plan.backordered)
            emitter.emit(OrderBackordered.model_validate({
                "shop_id": demand.shop_id, "order_id": demand.order_id, "lines": _lines(plan.backordered),
                "reason": plan.explanation, "backordered_at": now}))
    if shipment_rows:
        _SHIPMENT_ROWS.write(session, shipment_rows)
        _LINE_ROWS.write(session, line_rows)
    if backorder_rows:
        _BACKORDER_ROWS.write(session, backorder_rows, _ADD_BACKORDERS)


_SHIPMENT_ROWS = Rows(tables.shipments, ("shipment_id", "shop_id", "order_id", "warehouse_id", "status", "rule",
                                         "explanation", "reserved_at"))
_LINE_ROWS = Rows(tables.shipment_lines, ("shipment_id", "line_id", "sku", "quantity"))
_BACKORDER_ROWS = Rows(tables.backorders, ("shop_id", "order_id", "line_id", "sku", "quantity", "since"))
_ADD_BACKORDERS = _BACKORDER_ROWS.statement.on_conflict_do_update(
    index_elements=["shop_id", "order_id", "line_id"],
    set_={"quantity": tables.backorders.c.quantity + _BACKORDER_ROWS.statement.excluded.quantity})
"""New backordered units; a line already waiting keeps its place in the queue (its id) and waits for more."""


def _lines(lines: Iterable[Line]) -> list[dict[str, object]]:
    """Event lines as plain data: one validation of the whole event is much cheaper than one per line."""
    return [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity} for x in lines]


def _replace_backorders(session: Session, demand: Demand, plan: Plan) -> None:
    b = tables.backorders
    left = {line.line_id: line.quantity for line in plan.backordered}
    for line in demand.lines:
        remaining = left.get(line.line_id, 0)
        where = (b.c.shop_id == demand.shop_id) & (b.c.order_id == demand.order_id) & (b.c.line_id == line.line_id)
        if remaining:
            session.execute(update(b).where(where).values(quantity=remaining))
        else:
            session.execute(delete(b).where(where))


def fill_backorders(session: Session, skus: Iterable[str], cause: Emitter, now: datetime, limit: int = 500) -> int:
    """Stock of `skus` became available: allocate waiting orders, oldest backorder first. Returns how many
    orders got at least one new shipment."""
    b, o = tables.backorders, tables.orders
    wanted = sorted(set(skus))
    if not wanted:
        return 0
    oldest = func.min(b.c.id)
    waiting = [(row.shop_id, row.order_id) for row in session.execute(
        select(b.c.shop_id, b.c.order_id, oldest.label("age")).where(b.c.sku.in_(wanted))
        .group_by(b.c.shop_id, b.c.order_id).order_by(oldest).limit(limit))]
    if not waiting:
        return 0
    # Lock order rows first (cancellation locks them too), then their backorders: the same order everywhere.
    orders = {(row.shop_id, row.order_id): row for row in session.execute(
        select(o).where(tuple_(o.c.shop_id, o.c.order_id).in_(waiting), o.c.status == "open")
        .order_by(o.c.shop_id, o.c.order_id).with_for_update())}
    if not orders:
        return 0
    lines: dict[OrderId, list[Line]] = {}
    ages: dict[OrderId, int] = {}
    for row in session.execute(select(b).where(tuple_(b.c.shop_id, b.c.order_id).in_(list(orders)))
                               .order_by(b.c.id).with_for_update()):
        lines.setdefault((row.shop_id, row.order_id), []).append(Line(row.line_id, row.sku, row.quantity))
        ages.setdefault((row.shop_id, row.order_id), row.id)
    demands = [demand_for(orders[order], lines[order]) for order in sorted(lines, key=ages.__getitem__)]
    plans, _ = plan_and_reserve(session, demands, now)
    filled = [(d, p) for d, p in zip(demands, plans, strict=True) if p.shipments]
    record(session, [d for d, _ in filled], [p for _, p in filled], [cause] * len(filled), now,
           replaces_backorders=True)
    if filled:
        log.info("backorders.filled", orders=[order_key(*d.order) for d, _ in filled][:20], count=len(filled))
    return len(filled)


def demand_for(order: object, lines: Sequence[Line]) -> Demand:
    """A Demand from a warehouse.orders row."""
    return Demand(order.shop_id, order.order_id, tuple(lines),  # type: ignore[attr-defined]
                  (order.latitude, order.longitude), Policy(order.policy))  # type: ignore[attr-defined]


def reallocate(session: Session, releases: Sequence[tuple[OrderId, Line]], emitter: Emitter, now: datetime) -> None:
    """Lines taken back from a warehouse (short pick, recount) are allocated again, elsewhere if need be;
    what no warehouse has becomes a backorder, announced with order.backordered."""
    if not releases:
        return
    o = tables.orders
    merged: dict[OrderId, dict[tuple[str, str], int]] = {}
    for order, line in releases:  # one line may come back from two shipments
        per_line = merged.setdefault(order, {})
        per_line[(line.line_id, line.sku)] = per_line.get((line.line_id, line.sku), 0) + line.quantity
    by_order = {order: [Line(line_id, sku, q) for (line_id, sku), q in per_line.items()]
                for order, per_line in merged.items()}
    rows = {(row.shop_id, row.order_id): row for row in session.execute(
        select(o).where(tuple_(o.c.shop_id, o.c.order_id).in_(sorted(by_order)), o.c.status == "open")
        .order_by(o.c.shop_id, o.c.order_id).with_for_update())}
    demands = [demand_for(rows[order], lines) for order, lines in by_order.items() if order in rows]
    plans, _ = plan_and_reserve(session, demands, now)
    record(session, demands, plans, [emitter] * len(demands), now, replaces_backorders=False)
