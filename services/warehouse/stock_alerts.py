"""stock.low: announced once when a SKU's availability falls under its reorder point, re-armed when it recovers."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.base import Payload
from schemas.envelope import Event
from schemas.warehouse import StockLow
from services.warehouse.domain.stock import low_stock
from services.warehouse.store import Key, StockState, Work


def check_low(uow: Work, keys: Iterable[Key], cause: Event[Payload], known: Iterable[StockState] = ()) -> None:
    """Judge the rows of `keys` (read unless their state is `known`, as change_reserved returns it) and announce
    each that just fell low, on behalf of `cause`."""
    rows = list(known)
    rows += uow.store.stock_states(set(keys) - {(w, sku) for w, sku, *_ in rows})
    flips: list[tuple[str, str, bool]] = []
    for warehouse_id, sku, units, reorder_point, alerted in rows:
        decision = low_stock(units, reorder_point, alerted)
        if decision.alerted != alerted:
            flips.append((warehouse_id, sku, decision.alerted))
        if decision.alert:
            uow.events(cause).emit(StockLow(warehouse_id=warehouse_id, sku=sku, available=units,
                                            reorder_point=reorder_point, detected_at=uow.now))
    uow.store.set_low_alerted(flips)
