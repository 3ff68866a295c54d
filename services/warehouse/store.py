"""The warehouse's rows in PostgreSQL, and all its SQL: stock read and locked in one global order and changed only
through conditional updates (so no interleaving of workers can ever oversell), orders, shipments and their lines,
backorders and pick lists. Takes and returns values; decides nothing and publishes nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.common.db import Rows
from services.common.unit_of_work import UnitOfWork
from services.warehouse import tables
from services.warehouse.domain.allocation import Line, Policy, Site
from services.warehouse.domain.pick_path import Location
from services.warehouse.domain.stock import Promise

Key = tuple[str, str]
"""(warehouse_id, sku)"""
OrderId = tuple[str, str]
"""(shop_id, order_id): order ids are the shop's own, so only the pair names an order."""

OPEN_SHIPMENT = ("reserved", "picking", "picked")

StockState = tuple[str, str, int, int, bool]
"""(warehouse_id, sku, available, reorder_point, low_alerted) of a row as it now is."""


class StockConflict(RuntimeError):
    """A conditional update matched fewer rows than it must: a bug, never a normal race (rows are locked first)."""


@dataclass(frozen=True, slots=True)
class StockRow:
    """A SKU in a warehouse: its bin and units on hand and promised."""

    bin_id: str
    on_hand: int
    reserved: int


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the warehouse keeps it: what allocation needs to know about it."""

    shop_id: str
    order_id: str
    status: str
    customer: tuple[float, float]
    policy: Policy
    delivery: dict[str, Any]

    @property
    def key(self) -> OrderId:
        return (self.shop_id, self.order_id)


@dataclass(frozen=True, slots=True)
class OnList:
    """A shipment on a pick list, as a scan names it."""

    shipment_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    shipment_id: str
    line_id: str
    quantity: int
    picked: int


@dataclass(frozen=True, slots=True)
class OpenPromise:
    """A line of an open shipment not fully picked: units a recount may take back."""

    shop_id: str
    order_id: str
    promise: Promise
    quantity: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """A shipment waiting for a wave."""

    shipment_id: str
    shop_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class LineAt:
    """A reserved line and the bin its SKU is picked from."""

    sku: str
    quantity: int
    location: Location


def _keys(keys: Iterable[Key]) -> dict[str, list[str]]:
    wanted = sorted(set(keys))
    return {"warehouses": [w for w, _ in wanted], "skus": [sku for _, sku in wanted]}


def _order(row: Any) -> Order:
    return Order(row.shop_id, row.order_id, row.status, (float(row.latitude or 0), float(row.longitude or 0)),
                 Policy(row.policy), row.delivery)


class Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- stock -------------------------------------------------------------------------------------------------
    def active_sites(self) -> list[Site]:
        return [Site(r.warehouse_id, r.latitude, r.longitude, r.priority) for r in self.session.execute(_ACTIVE_SITES)]

    def is_warehouse(self, warehouse_id: str) -> bool:
        w = tables.warehouses
        return self.session.execute(select(w.c.warehouse_id).where(w.c.warehouse_id == warehouse_id)).first() is not None

    def has_bin(self, warehouse_id: str, bin_id: str) -> bool:
        b = tables.bins
        return self.session.execute(
            select(b.c.bin_id).where(b.c.warehouse_id == warehouse_id, b.c.bin_id == bin_id)).first() is not None

    def available(self, skus: Iterable[str]) -> dict[Key, int]:
        """Units available per (warehouse, sku), read without locks: a plan's first guess."""
        rows = self.session.execute(_AVAILABLE, {"skus": sorted(set(skus))})
        return {(w, sku): units for w, sku, units in rows}

    def lock(self, keys: Iterable[Key]) -> dict[Key, int]:
        """Lock rows in (warehouse_id, sku) order, the one order every transaction uses, so lockers never
        deadlock; returns their fresh availability."""
        params = _keys(keys)
        if not params["skus"]:
            return {}
        return {(w, sku): units for w, sku, units, _, _ in self.session.execute(_LOCK, params)}

    def change_reserved(self, deltas: Mapping[Key, int], now: datetime) -> list[StockState]:
        """Reserve (positive) or release (negative) units, conditionally, in one statement; returns the rows'
        new state."""
        items = sorted((k, d) for k, d in deltas.items() if d)
        if not items:
            return []
        states: list[StockState] = [tuple(row) for row in self.session.execute(_CHANGE_RESERVED, {
            "warehouses": [k[0] for k, _ in items], "skus": [k[1] for k, _ in items],
            "deltas": [d for _, d in items], "now": now})]
        if len(states) != len(items):
            raise StockConflict(f"conditional stock update matched {len(states)} of {len(items)} rows: {items}")
        return states

    def change_on_hand(self, changes: Mapping[Key, tuple[int, int]], reason: str, now: datetime,
                       event_id: UUID | None, reference: str | None = None) -> None:
        """Move on_hand (and reserved with it, for shipping) and write every on_hand change to the ledger.
        The table's checks refuse any result with reserved above on_hand."""
        items = sorted((k, c) for k, c in changes.items() if c != (0, 0))
        if not items:
            return
        self.session.execute(_CHANGE_ON_HAND, {
            "warehouses": [k[0] for k, _ in items], "skus": [k[1] for k, _ in items],
            "on_hand": [c[0] for _, c in items], "reserved": [c[1] for _, c in items], "now": now})
        ledger_rows = [{"warehouse_id": k[0], "sku": k[1], "delta": c[0], "reason": reason, "reference": reference,
                        "event_id": event_id, "at": now} for k, c in items if c[0]]
        if ledger_rows:
            _LEDGER_ROWS.write(self.session, ledger_rows)

    def locked_row(self, warehouse_id: str, sku: str) -> StockRow | None:
        """One stock row, locked for this transaction (None if the warehouse has never held the SKU)."""
        st = tables.stock
        row = self.session.execute(select(st.c.bin_id, st.c.on_hand, st.c.reserved)
                                   .where(st.c.warehouse_id == warehouse_id, st.c.sku == sku)
                                   .with_for_update()).first()
        return StockRow(row.bin_id, row.on_hand, row.reserved) if row else None

    def add_stock_row(self, warehouse_id: str, sku: str, bin_id: str, now: datetime) -> None:
        """A SKU the warehouse has never held, in its bin, with nothing on hand yet."""
        self.session.execute(tables.stock.insert().values(warehouse_id=warehouse_id, sku=sku, bin_id=bin_id,
                                                          updated_at=now))

    def move_to_bin(self, warehouse_id: str, sku: str, bin_id: str) -> None:
        st = tables.stock
        self.session.execute(update(st).where(st.c.warehouse_id == warehouse_id, st.c.sku == sku)
                             .values(bin_id=bin_id))

    def picked_not_packed(self, warehouse_id: str, sku: str) -> int:
        """Units picked into totes for open shipments: in the building but no longer in the bin."""
        s, line = tables.shipments, tables.shipment_lines
        return int(self.session.execute(
            select(func.coalesce(func.sum(line.c.picked), 0)).select_from(line.join(s))
            .where(s.c.warehouse_id == warehouse_id, line.c.sku == sku, s.c.status.in_(OPEN_SHIPMENT))).scalar_one())

    def stock_states(self, keys: Iterable[Key]) -> list[StockState]:
        params = _keys(keys)
        return [tuple(row) for row in self.session.execute(_READ, params)] if params["skus"] else []

    def set_low_alerted(self, flags: Sequence[tuple[str, str, bool]]) -> None:
        """(warehouse_id, sku, alerted) per row whose stock.low alarm flips."""
        if flags:
            self.session.execute(_SET_LOW_ALERTED, {"warehouses": [f[0] for f in flags],
                                                    "skus": [f[1] for f in flags], "flags": [f[2] for f in flags]})

    # -- orders and backorders ---------------------------------------------------------------------------------
    def policies(self, shop_ids: Iterable[str]) -> dict[str, str]:
        """The allocation policy each of these shops chose, for those that chose one."""
        return dict(self.session.execute(_POLICIES, {"shops": sorted(set(shop_ids))}).all())

    def add_orders(self, rows: Sequence[Mapping[str, Any]]) -> set[OrderId]:
        """Insert orders not already here; the ones inserted."""
        return {(shop, order) for shop, order in _ORDER_ROWS.write(self.session, rows, _NEW_ORDERS)}

    def locked_order(self, order: OrderId) -> Order | None:
        o = tables.orders
        row = self.session.execute(select(o).where(o.c.shop_id == order[0], o.c.order_id == order[1])
                                   .with_for_update()).first()
        return _order(row) if row else None

    def locked_open_orders(self, orders: Iterable[OrderId]) -> dict[OrderId, Order]:
        """The open ones of `orders`, locked in key order (cancellation locks them too: one order everywhere)."""
        o = tables.orders
        return {(row.shop_id, row.order_id): _order(row) for row in self.session.execute(
            select(o).where(tuple_(o.c.shop_id, o.c.order_id).in_(sorted(set(orders))), o.c.status == "open")
            .order_by(o.c.shop_id, o.c.order_id).with_for_update())}

    def order_delivery(self, order: OrderId) -> dict[str, Any]:
        o = tables.orders
        return dict(self.session.execute(select(o.c.delivery).where(o.c.shop_id == order[0],
                                                                    o.c.order_id == order[1])).scalar_one())

    def cancel(self, order: OrderId) -> tuple[list[str], dict[Key, int]]:
        """The order cancelled, its backorders dropped and its open shipments cancelled (locked, in id order);
        returns those shipments and the units they held per (warehouse, sku)."""
        o, s, line, b = tables.orders, tables.shipments, tables.shipment_lines, tables.backorders
        shop_id, order_id = order
        self.session.execute(update(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id)
                             .values(status="cancelled"))
        self.session.execute(delete(b).where(b.c.shop_id == shop_id, b.c.order_id == order_id))
        open_ids = list(self.session.execute(
            select(s.c.shipment_id).where(s.c.shop_id == shop_id, s.c.order_id == order_id,
                                          s.c.status.in_(OPEN_SHIPMENT))
            .order_by(s.c.shipment_id).with_for_update()).scalars())
        held: dict[Key, int] = {}
        for warehouse_id, sku, quantity in self.session.execute(
                select(s.c.warehouse_id, line.c.sku, line.c.quantity).select_from(line.join(s))
                .where(s.c.shipment_id.in_(open_ids))):
            held[(warehouse_id, sku)] = held.get((warehouse_id, sku), 0) + quantity
        if open_ids:
            self.session.execute(update(s).where(s.c.shipment_id.in_(open_ids)).values(status="cancelled"))
        return open_ids, held

    def waiting_for(self, skus: Iterable[str], limit: int) -> list[OrderId]:
        """Orders with a backorder of any of `skus`, oldest backorder first."""
        b = tables.backorders
        oldest = func.min(b.c.id)
        return [(row.shop_id, row.order_id) for row in self.session.execute(
            select(b.c.shop_id, b.c.order_id, oldest.label("age")).where(b.c.sku.in_(sorted(set(skus))))
            .group_by(b.c.shop_id, b.c.order_id).order_by(oldest).limit(limit))]

    def locked_backorders(self, orders: Iterable[OrderId]) -> dict[OrderId, list[Line]]:
        """Each order's backordered lines, locked; orders in the order their oldest backorder came."""
        b = tables.backorders
        lines: dict[OrderId, list[Line]] = {}
        for row in self.session.execute(select(b).where(tuple_(b.c.shop_id, b.c.order_id).in_(list(orders)))
                                        .order_by(b.c.id).with_for_update()):
            lines.setdefault((row.shop_id, row.order_id), []).append(Line(row.line_id, row.sku, row.quantity))
        return lines

    def add_backorders(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """New backordered units; a line already waiting keeps its place in the queue (its id) and waits for more."""
        if rows:
            _BACKORDER_ROWS.write(self.session, rows, _ADD_BACKORDERS)

    def set_backordered(self, order: OrderId, left: Mapping[str, int], line_ids: Iterable[str]) -> None:
        """Each of the order's `line_ids` now waits for `left[line_id]` units (none: it no longer waits)."""
        b = tables.backorders
        for line_id in line_ids:
            where = (b.c.shop_id == order[0]) & (b.c.order_id == order[1]) & (b.c.line_id == line_id)
            if left.get(line_id, 0):
                self.session.execute(update(b).where(where).values(quantity=left[line_id]))
            else:
                self.session.execute(delete(b).where(where))

    # -- shipments ---------------------------------------------------------------------------------------------
    def shipment_counts(self, orders: Iterable[OrderId]) -> dict[OrderId, int]:
        s = tables.shipments
        return {(shop_id, order_id): n for shop_id, order_id, n in self.session.execute(
            select(s.c.shop_id, s.c.order_id, func.count())
            .where(tuple_(s.c.shop_id, s.c.order_id).in_(sorted(set(orders))))
            .group_by(s.c.shop_id, s.c.order_id))}

    def add_shipments(self, shipments: Sequence[Mapping[str, Any]], lines: Sequence[Mapping[str, Any]]) -> None:
        if shipments:
            _SHIPMENT_ROWS.write(self.session, shipments)
            _LINE_ROWS.write(self.session, lines)

    def locked_on_list(self, picklist_id: str, order: OrderId, warehouse_id: str) -> list[OnList]:
        """The order's shipments on the list, oldest first, locked: one tote can hold two of them (a backorder
        filled, or units re-allocated, in the same warehouse before the wave closed)."""
        s = tables.shipments
        return [OnList(row.shipment_id, row.status) for row in self.session.execute(
            select(s.c.shipment_id, s.c.status)
            .where(s.c.picklist_id == picklist_id, s.c.shop_id == order[0], s.c.order_id == order[1],
                   s.c.warehouse_id == warehouse_id).order_by(s.c.reserved_at, s.c.shipment_id).with_for_update())]

    def locked_lines(self, shipment_id: str, sku: str) -> list[ShipmentLine]:
        line = tables.shipment_lines
        return [ShipmentLine(r.shipment_id, r.line_id, r.quantity, r.picked) for r in self.session.execute(
            select(line.c.shipment_id, line.c.line_id, line.c.quantity, line.c.picked)
            .where(line.c.shipment_id == shipment_id, line.c.sku == sku).order_by(line.c.line_id).with_for_update())]

    def add_picked(self, shipment_id: str, line_id: str, units: int) -> None:
        line = tables.shipment_lines
        self.session.execute(update(line).where(line.c.shipment_id == shipment_id, line.c.line_id == line_id)
                             .values(picked=line.c.picked + units))

    def cut_line(self, shipment_id: str, line_id: str, quantity: int) -> None:
        """The line now holds `quantity` units; none: it is gone."""
        line = tables.shipment_lines
        where = (line.c.shipment_id == shipment_id) & (line.c.line_id == line_id)
        if quantity:
            self.session.execute(update(line).where(where).values(quantity=quantity))
        else:
            self.session.execute(delete(line).where(where))

    def line_quantities(self, shipment_id: str) -> list[tuple[int, int]]:
        """(quantity, picked) of each of the shipment's lines."""
        line = tables.shipment_lines
        return [(q, p) for q, p in self.session.execute(
            select(line.c.quantity, line.c.picked).where(line.c.shipment_id == shipment_id))]

    def finish_picking(self, shipment_id: str, status: str) -> None:
        """A shipment still being picked (or waiting for it) becomes `status`."""
        s = tables.shipments
        self.session.execute(update(s).where(s.c.shipment_id == shipment_id,
                                             s.c.status.in_(("picking", "reserved"))).values(status=status))

    def locked_open_promises(self, key: Key) -> list[OpenPromise]:
        """Lines of the SKU's open shipments in the warehouse with units still to pick, locked."""
        s, line = tables.shipments, tables.shipment_lines
        return [OpenPromise(r.shop_id, r.order_id, Promise(r.shipment_id, r.line_id, r.quantity - r.picked,
                                                           r.picklist_id is not None, r.reserved_at), r.quantity)
                for r in self.session.execute(
                    select(s.c.shipment_id, s.c.shop_id, s.c.order_id, s.c.picklist_id, s.c.reserved_at,
                           line.c.line_id, line.c.quantity, line.c.picked).select_from(line.join(s))
                    .where(s.c.warehouse_id == key[0], line.c.sku == key[1], s.c.status.in_(OPEN_SHIPMENT),
                           line.c.quantity > line.c.picked)
                    .order_by(s.c.shipment_id, line.c.line_id).with_for_update())]

    def locked_picked(self, order: OrderId, warehouse_id: str) -> list[str]:
        """The order's fully picked shipments in the warehouse, oldest first, locked."""
        s = tables.shipments
        return list(self.session.execute(
            select(s.c.shipment_id).where(s.c.shop_id == order[0], s.c.order_id == order[1],
                                          s.c.warehouse_id == warehouse_id, s.c.status == "picked")
            .order_by(s.c.reserved_at, s.c.shipment_id).with_for_update()).scalars())

    def picked_contents(self, shipment_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Units picked per SKU, per shipment."""
        line = tables.shipment_lines
        contents: dict[str, dict[str, int]] = {}
        for shipment_id, sku, picked in self.session.execute(
                select(line.c.shipment_id, line.c.sku, line.c.picked).where(line.c.shipment_id.in_(shipment_ids))):
            per_sku = contents.setdefault(shipment_id, {})
            per_sku[sku] = per_sku.get(sku, 0) + picked
        return contents

    def add_staff_scan(self, **values: Any) -> bool:
        """A tap on a staff page; False when its form was sent before."""
        return self.session.execute(pg_insert(tables.staff_scans).values(**values).on_conflict_do_nothing()
                                    .returning(tables.staff_scans.c.scan_id)).first() is not None

    def lock_shipment(self, shipment_id: str) -> None:
        """Taps on one shipment are recorded one at a time (two pages, one tote)."""
        s = tables.shipments
        self.session.execute(select(s.c.shipment_id).where(s.c.shipment_id == shipment_id).with_for_update())

    def mark_packed(self, shipment_id: str, **values: Any) -> None:
        s = tables.shipments
        self.session.execute(update(s).where(s.c.shipment_id == shipment_id).values(status="packed", **values))

    # -- pick waves --------------------------------------------------------------------------------------------
    def waiting_per_warehouse(self) -> list[tuple[str, int, datetime]]:
        """(warehouse_id, shipments waiting, oldest reservation), read without locks from the partial index: most
        ticks find nothing due and lock nothing."""
        s = tables.shipments
        return [(w, n, oldest) for w, n, oldest in self.session.execute(
            select(s.c.warehouse_id, func.count(), func.min(s.c.reserved_at)).where(s.c.status == "reserved")
            .group_by(s.c.warehouse_id).order_by(s.c.warehouse_id))]

    def claim_waiting(self, warehouse_id: str, limit: int) -> list[Reservation]:
        """The oldest waiting shipments, locked with SKIP LOCKED: another worker's timer may hold some."""
        s = tables.shipments
        return [Reservation(r.shipment_id, r.shop_id, r.order_id) for r in self.session.execute(
            select(s.c.shipment_id, s.c.shop_id, s.c.order_id)
            .where(s.c.warehouse_id == warehouse_id, s.c.status == "reserved")
            .order_by(s.c.reserved_at, s.c.shipment_id).limit(limit)
            .with_for_update(skip_locked=True))]

    def lines_at_bins(self, warehouse_id: str, shipment_ids: Sequence[str]) -> dict[str, list[LineAt]]:
        """Each shipment's lines and the bins they are picked from. The lines are looked up by their own key, in
        this warehouse's stock by its key: joining the shipments back in let the planner scan every shipment
        ever written, so that each wave cost more as the table grew."""
        line, st, b = tables.shipment_lines, tables.stock, tables.bins
        lines: dict[str, list[LineAt]] = {}
        for row in self.session.execute(
                select(line.c.shipment_id, line.c.sku, line.c.quantity, b.c.zone, b.c.aisle, b.c.bay, b.c.level,
                       b.c.bin_id)
                .select_from(line.join(st, (st.c.warehouse_id == warehouse_id) & (st.c.sku == line.c.sku))
                             .join(b, (b.c.warehouse_id == st.c.warehouse_id) & (b.c.bin_id == st.c.bin_id)))
                .where(line.c.shipment_id.in_(shipment_ids)).order_by(line.c.line_id)):
            lines.setdefault(row.shipment_id, []).append(
                LineAt(row.sku, row.quantity, Location(row.zone, row.aisle, row.bay, row.level, row.bin_id)))
        return lines

    def wave_numbers(self, count: int) -> list[int]:
        return list(self.session.execute(select(tables.wave_numbers.next_value())
                                         .select_from(func.generate_series(1, count))).scalars())

    def start_picking(self, on_lists: Sequence[tuple[str, str, str]], picklists: Sequence[Mapping[str, Any]]) -> None:
        """(shipment_id, picklist_id, tote) of each shipment put on a list, and the lists' documents."""
        self.session.execute(_START_PICKING, {"ids": [x[0] for x in on_lists], "picklists": [x[1] for x in on_lists],
                                              "totes": [x[2] for x in on_lists]})
        _PICKLIST_ROWS.write(self.session, picklists)


Work = UnitOfWork[Store]
"""The warehouse's unit of work: what its handlers, jobs and use cases are given."""

# Statements made once: a statement a batch runs, built per call, costs SQLAlchemy a cache key each time.
_ACTIVE_SITES = select(tables.warehouses).where(tables.warehouses.c.active)
_POLICIES = select(tables.shop_policies.c.shop_id, tables.shop_policies.c.policy).where(
    tables.shop_policies.c.shop_id.in_(bindparam("shops", expanding=True)))
_ORDER_ROWS = Rows(tables.orders, ("order_id", "shop_id", "policy", "status", "latitude", "longitude", "lines",
                                   "delivery", "accepted_at"))
_NEW_ORDERS = _ORDER_ROWS.statement.on_conflict_do_nothing().returning(tables.orders.c.shop_id,
                                                                      tables.orders.c.order_id)
_AVAILABLE = text("SELECT warehouse_id, sku, on_hand - reserved FROM warehouse.stock WHERE sku = ANY(CAST(:skus AS text[]))")
_ROWS = """
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved, s.reorder_point, s.low_alerted
      FROM warehouse.stock AS s
      JOIN unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[])) AS v(w, sku)
        ON s.warehouse_id = v.w AND s.sku = v.sku
"""
_LOCK = text(_ROWS + " ORDER BY s.warehouse_id, s.sku FOR UPDATE OF s")
_READ = text(_ROWS)
_CHANGE_RESERVED = text("""
    UPDATE warehouse.stock AS s
       SET reserved = s.reserved + v.delta, updated_at = :now
      FROM unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[]), CAST(:deltas AS int[])) AS v(w, sku, delta)
     WHERE s.warehouse_id = v.w AND s.sku = v.sku
       AND s.on_hand - s.reserved >= v.delta      -- a reservation never takes more than is available
       AND s.reserved + v.delta >= 0              -- a release never gives back more than was reserved
    RETURNING s.warehouse_id, s.sku, s.on_hand - s.reserved, s.reorder_point, s.low_alerted
""")
_CHANGE_ON_HAND = text("""
    UPDATE warehouse.stock AS s
       SET on_hand = s.on_hand + v.on_hand_delta, reserved = s.reserved + v.reserved_delta, updated_at = :now
      FROM unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[]), CAST(:on_hand AS int[]),
                  CAST(:reserved AS int[])) AS v(w, sku, on_hand_delta, reserved_delta)
     WHERE s.warehouse_id = v.w AND s.sku = v.sku
""")
_SET_LOW_ALERTED = text("""
    UPDATE warehouse.stock AS s SET low_alerted = v.flag
      FROM unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[]), CAST(:flags AS boolean[])) AS v(w, sku, flag)
     WHERE s.warehouse_id = v.w AND s.sku = v.sku
""")
_START_PICKING = text("""
    UPDATE warehouse.shipments AS s SET status = 'picking', picklist_id = v.picklist_id, tote = v.tote
      FROM unnest(CAST(:ids AS text[]), CAST(:picklists AS text[]), CAST(:totes AS text[]))
           AS v(shipment_id, picklist_id, tote)
     WHERE s.shipment_id = v.shipment_id
""")
_LEDGER_ROWS = Rows(tables.ledger, ("warehouse_id", "sku", "delta", "reason", "reference", "event_id", "at"))
_SHIPMENT_ROWS = Rows(tables.shipments, ("shipment_id", "shop_id", "order_id", "warehouse_id", "status", "rule",
                                         "explanation", "reserved_at"))
_LINE_ROWS = Rows(tables.shipment_lines, ("shipment_id", "line_id", "sku", "quantity"))
_BACKORDER_ROWS = Rows(tables.backorders, ("shop_id", "order_id", "line_id", "sku", "quantity", "since"))
_ADD_BACKORDERS = _BACKORDER_ROWS.statement.on_conflict_do_update(
    index_elements=["shop_id", "order_id", "line_id"],
    set_={"quantity": tables.backorders.c.quantity + _BACKORDER_ROWS.statement.excluded.quantity})
_PICKLIST_ROWS = Rows(tables.picklists, ("picklist_id", "warehouse_id", "wave_id", "issued_at", "document"))
