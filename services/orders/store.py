"""The orders service's named queries and writes: orders by (shop, id), their statuses and their transitions.
Handlers load, decide (domain) and save through these; no SQL lives in the handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.orm import Session

from schemas.orders import RejectionReason
from services.common.db import Rows
from services.common.unit_of_work import UnitOfWork
from services.orders import tables
from services.orders.domain.state_machine import OrderStatus

OrderId = tuple[str, str]
"""(shop_id, order_id): order ids are the shop's own, so only the pair names an order."""


@dataclass(frozen=True, slots=True)
class Placement:
    """An order as placed, with its verdict: what `place` stores."""

    order: OrderId
    placed_at: datetime
    event_id: UUID
    document: Mapping[str, Any]
    """The order.placed payload as received (validated already): stored as it came, not re-serialised."""
    reasons: Sequence[RejectionReason]

    @property
    def status(self) -> OrderStatus:
        return OrderStatus.REJECTED if self.reasons else OrderStatus.ACCEPTED


@dataclass(frozen=True, slots=True)
class Transition:
    order: OrderId
    before: OrderStatus | None
    after: OrderStatus
    at: datetime
    event_id: UUID


class Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    def place(self, placements: Sequence[Placement], now: datetime) -> dict[OrderId, OrderStatus | None]:
        """Insert orders (each order once per call); an order under an id whose earlier order was rejected replaces
        it. Returns order -> the status it had before (None when new) for the orders this call stored; an order left
        out is one whose id its shop already uses."""
        rows = [{"shop_id": p.order[0], "order_id": p.order[1], "status": p.status.value, "placed_at": p.placed_at,
                 "updated_at": now, "placed_event_id": p.event_id, "document": p.document,
                 "rejection_reasons": [r.model_dump() for r in p.reasons] or None} for p in placements]
        return {(shop_id, order_id): (None if inserted else OrderStatus.REJECTED)
                for shop_id, order_id, inserted in _ORDER_ROWS.write(self.session, rows, _PLACE)}

    def lock_statuses(self, orders: Sequence[OrderId]) -> dict[OrderId, OrderStatus]:
        """The orders' statuses, their rows locked in one order (shop, id) everywhere; unknown orders are left out."""
        wanted = sorted(set(orders))
        return {(shop_id, order_id): OrderStatus(status) for shop_id, order_id, status in self.session.execute(
            _LOCK_STATUSES, {"shops": [shop for shop, _ in wanted], "ids": [i for _, i in wanted]})}

    def set_statuses(self, statuses: Mapping[OrderId, OrderStatus], now: datetime) -> None:
        """One statement for any number of orders (psycopg2's executemany would send one UPDATE per order)."""
        if statuses:
            self.session.execute(_SET_STATUSES, {"shops": [shop for shop, _ in statuses], "ids": [i for _, i in statuses],
                                            "statuses": [s.value for s in statuses.values()], "now": now})

    def record(self, transitions: Sequence[Transition]) -> None:
        if transitions:
            _TRANSITION_ROWS.write(self.session, [
                {"shop_id": t.order[0], "order_id": t.order[1], "from_status": t.before.value if t.before else None,
                 "to_status": t.after.value, "at": t.at, "event_id": t.event_id} for t in transitions])


_ORDER_ROWS = Rows(tables.orders, ("shop_id", "order_id", "status", "placed_at", "updated_at", "placed_event_id",
                                   "document", "rejection_reasons"))
_PLACE = _ORDER_ROWS.statement.on_conflict_do_update(
    index_elements=["shop_id", "order_id"],
    set_={c: _ORDER_ROWS.statement.excluded[c]
          for c in ("status", "placed_at", "updated_at", "placed_event_id", "document", "rejection_reasons")},
    where=tables.orders.c.status == OrderStatus.REJECTED.value,
).returning(tables.orders.c.shop_id, tables.orders.c.order_id, text("xmax = 0"))


# Made once, like every statement a batch runs: one built per call costs SQLAlchemy a cache key each time.
_LOCK_STATUSES = text("""
    SELECT o.shop_id, o.order_id, o.status
      FROM orders.orders AS o
      JOIN unnest(CAST(:shops AS text[]), CAST(:ids AS text[])) AS v(shop_id, order_id)
        ON o.shop_id = v.shop_id AND o.order_id = v.order_id
     ORDER BY o.shop_id, o.order_id
       FOR UPDATE OF o
""")
_SET_STATUSES = text("""
    UPDATE orders.orders AS o SET status = v.status, updated_at = :now
      FROM unnest(CAST(:shops AS text[]), CAST(:ids AS text[]), CAST(:statuses AS text[]))
           AS v(shop_id, order_id, status)
     WHERE o.shop_id = v.shop_id AND o.order_id = v.order_id
""")


_TRANSITION_ROWS = Rows(tables.transitions, ("shop_id", "order_id", "from_status", "to_status", "at", "event_id"))


Work = UnitOfWork[Store]
"""The orders service's unit of work: what its handlers are given."""
