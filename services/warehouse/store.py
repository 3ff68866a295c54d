"""Stock rows in PostgreSQL: reading availability, locking rows in one global order, and changing them
only through conditional updates, so no interleaving of workers can ever oversell."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from schemas.warehouse import StockLow
from services.common.db import Rows
from services.common.handling import Emitter
from services.warehouse import tables
from services.warehouse.domain.allocation import Site
from services.warehouse.domain.stock import low_stock

Key = tuple[str, str]
"""(warehouse_id, sku)"""

OPEN_SHIPMENT = ("reserved", "picking", "picked")


class StockConflict(RuntimeError):
    """A conditional update matched fewer rows than it must: a bug, never a normal race (rows are locked first)."""


def active_sites(session: Session) -> list[Site]:
    return [Site(r.warehouse_id, r.latitude, r.longitude, r.priority) for r in session.execute(_ACTIVE_SITES)]


_ACTIVE_SITES = select(tables.warehouses).where(tables.warehouses.c.active)  # made once: every batch runs it


def available(session: Session, skus: Iterable[str]) -> dict[Key, int]:
    """Units available per (warehouse, sku), read without locks: a plan's first guess."""
    rows = session.execute(_AVAILABLE, {"skus": sorted(set(skus))})
    return {(w, sku): units for w, sku, units in rows}


_AVAILABLE = text("SELECT warehouse_id, sku, on_hand - reserved FROM warehouse.stock WHERE sku = ANY(CAST(:skus AS text[]))")
_ROWS = """
    SELECT s.warehouse_id, s.sku, s.on_hand - s.reserved, s.reorder_point, s.low_alerted
      FROM warehouse.stock AS s
      JOIN unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[])) AS v(w, sku)
        ON s.warehouse_id = v.w AND s.sku = v.sku
"""
_LOCK = text(_ROWS + " ORDER BY s.warehouse_id, s.sku FOR UPDATE OF s")
_READ = text(_ROWS)


def _keys(keys: Iterable[Key]) -> dict[str, list[str]]:
    wanted = sorted(set(keys))
    return {"warehouses": [w for w, _ in wanted], "skus": [sku for _, sku in wanted]}


def lock(session: Session, keys: Iterable[Key]) -> dict[Key, int]:
    """Lock rows in (warehouse_id, sku) order, the one order every transaction uses, so lockers never
    deadlock; returns their fresh availability."""
    params = _keys(keys)
    if not params["skus"]:
        return {}
    return {(w, sku): units for w, sku, units, _, _ in session.execute(_LOCK, params)}


_CHANGE_RESERVED = text("""
    UPDATE warehouse.stock AS s
       SET reserved = s.reserved + v.delta, updated_at = :now
      FROM unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[]), CAST(:deltas AS int[])) AS v(w, sku, delta)
     WHERE s.warehouse_id = v.w AND s.sku = v.sku
       AND s.on_hand - s.reserved >= v.delta      -- a reservation never takes more than is available
       AND s.reserved + v.delta >= 0              -- a release never gives back more than was reserved
    RETURNING s.warehouse_id, s.sku, s.on_hand - s.reserved, s.reorder_point, s.low_alerted
""")

StockState = tuple[str, str, int, int, bool]
"""(warehouse_id, sku, available, reorder_point, low_alerted) of a row as it now is."""


def change_reserved(session: Session, deltas: Mapping[Key, int], now: datetime) -> list[StockState]:
    """Reserve (positive) or release (negative) units, conditionally, in one statement; returns the rows'
    new state."""
    items = sorted((k, d) for k, d in deltas.items() if d)
    if not items:
        return []
    states: list[StockState] = [tuple(row) for row in session.execute(_CHANGE_RESERVED, {
        "warehouses": [k[0] for k, _ in items], "skus": [k[1] for k, _ in items], "deltas": [d for _, d in items],
        "now": now})]
    if len(states) != len(items):
        raise StockConflict(f"conditional stock update matched {len(states)} of {len(items)} rows: {items}")
    return states


_CHANGE_ON_HAND = text("""
    UPDATE warehouse.stock AS s
       SET on_hand = s.on_hand + v.on_hand_delta, reserved = s.reserved + v.reserved_delta, updated_at = :now
      FROM unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[]), CAST(:on_hand AS int[]),
                  CAST(:reserved AS int[])) AS v(w, sku, on_hand_delta, reserved_delta)
     WHERE s.warehouse_id = v.w AND s.sku = v.sku
""")


def change_on_hand(session: Session, changes: Mapping[Key, tuple[int, int]], reason: str, now: datetime,
                   event_id: UUID | None, reference: str | None = None) -> None:
    """Move on_hand (and reserved with it, for shipping) and write every on_hand change to the ledger.
    The table's checks refuse any result with reserved above on_hand."""
    items = sorted((k, c) for k, c in changes.items() if c != (0, 0))
    if not items:
        return
    session.execute(_CHANGE_ON_HAND, {
        "warehouses": [k[0] for k, _ in items], "skus": [k[1] for k, _ in items],
        "on_hand": [c[0] for _, c in items], "reserved": [c[1] for _, c in items], "now": now})
    ledger_rows = [{"warehouse_id": k[0], "sku": k[1], "delta": c[0], "reason": reason, "reference": reference,
                    "event_id": event_id, "at": now} for k, c in items if c[0]]
    if ledger_rows:
        _LEDGER_ROWS.write(session, ledger_rows)


_LEDGER_ROWS = Rows(tables.ledger, ("warehouse_id", "sku", "delta", "reason", "reference", "event_id", "at"))


@dataclass(frozen=True, slots=True)
class StockRow:
    """A SKU in a warehouse: its bin and units on hand and promised."""

    bin_id: str
    on_hand: int
    reserved: int


def locked_row(session: Session, warehouse_id: str, sku: str) -> StockRow | None:
    """One stock row, locked for this transaction (None if the warehouse has never held the SKU)."""
    st = tables.stock
    row = session.execute(select(st.c.bin_id, st.c.on_hand, st.c.reserved)
                          .where(st.c.warehouse_id == warehouse_id, st.c.sku == sku).with_for_update()).first()
    return StockRow(row.bin_id, row.on_hand, row.reserved) if row else None


def picked_not_packed(session: Session, warehouse_id: str, sku: str) -> int:
    """Units picked into totes for open shipments: in the building but no longer in the bin."""
    s, line = tables.shipments, tables.shipment_lines
    return int(session.execute(
        select(func.coalesce(func.sum(line.c.picked), 0)).select_from(line.join(s))
        .where(s.c.warehouse_id == warehouse_id, line.c.sku == sku, s.c.status.in_(OPEN_SHIPMENT))).scalar_one())


def check_low(session: Session, keys: Iterable[Key], emitter: Emitter, known: Iterable[StockState] = ()) -> None:
    """Emit stock.low once when a SKU's availability falls under its reorder point; re-arm when it recovers.
    Rows are read unless their state is `known` (as returned by change_reserved)."""
    rows: list[StockState] = list(known)
    params = _keys(set(keys) - {(w, sku) for w, sku, *_ in rows})
    if params["skus"]:
        rows.extend(tuple(row) for row in session.execute(_READ, params))
    flips: list[tuple[str, str, bool]] = []
    for warehouse_id, sku, units, reorder_point, alerted in rows:
        decision = low_stock(units, reorder_point, alerted)
        if decision.alerted != alerted:
            flips.append((warehouse_id, sku, decision.alerted))
        if decision.alert:
            emitter.emit(StockLow(warehouse_id=warehouse_id, sku=sku, available=units, reorder_point=reorder_point,
                                  detected_at=emitter.now))
    if flips:
        session.execute(_SET_LOW_ALERTED, {"warehouses": [f[0] for f in flips], "skus": [f[1] for f in flips],
                                           "flags": [f[2] for f in flips]})


_SET_LOW_ALERTED = text("""
    UPDATE warehouse.stock AS s SET low_alerted = v.flag
      FROM unnest(CAST(:warehouses AS text[]), CAST(:skus AS text[]), CAST(:flags AS boolean[])) AS v(w, sku, flag)
     WHERE s.warehouse_id = v.w AND s.sku = v.sku
""")
