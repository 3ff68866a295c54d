"""The returns service's named queries and writes, with typed rows: its copy of each order, which units travel in
which shipment and when they were delivered, each return, the refunds paid and each shop's return policy (or the
settings' default for shops that have none). Handlers load, decide (domain) and
save through these; no SQL lives in the handlers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from schemas.orders import OrderAccepted
from services.common.unit_of_work import UnitOfWork
from services.returns import tables
from services.returns.domain.inspection import InspectionError
from services.returns.domain.refunds import History, PaidLine, PaidOrder
from services.returns.domain.window import ReturnPolicy
from services.returns.settings import ReturnsSettings

Units = dict[str, int]
"""line id -> units"""
Dispositions = dict[str, dict[str, int]]
"""line id -> {restock, write_off, needs_processing: units}"""


@dataclass(frozen=True, slots=True)
class OrderCopy:
    """What was ordered and paid, line by line, as order.accepted said."""

    shop_id: str
    order_id: str
    currency: str
    status: str
    skus: Mapping[str, str]
    """line id -> SKU"""
    paid: PaidOrder


@dataclass(frozen=True, slots=True)
class Return:
    shop_id: str
    return_id: str
    order_id: str
    rma: str
    status: str
    lines: Sequence[Mapping[str, Any]]
    """The requested lines: {line_id, sku, quantity, reason, opened}"""
    received: Units
    dispositions: Dispositions

    @property
    def authorised(self) -> Units:
        return {line["line_id"]: line["quantity"] for line in self.lines}


class Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    def save_order(self, order: OrderAccepted) -> None:
        self.session.execute(pg_insert(tables.orders).values(
            shop_id=order.shop_id, order_id=order.order_id, currency=order.currency,
            lines=[{"line_id": line.line_id, "sku": line.sku, "quantity": line.quantity,
                    "unit_price": str(line.unit_price)} for line in order.lines],
            discount=order.discount_total, shipping=order.shipping_total, status="accepted",
            accepted_at=order.accepted_at).on_conflict_do_nothing())

    def cancel_order(self, shop_id: str, order_id: str) -> None:
        o = tables.orders
        self.session.execute(update(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id).values(status="cancelled"))

    def shipment_lines(self, shipment_id: str, shop_id: str, order_id: str, units: Units) -> None:
        """Which lines travel in a shipment (tracking's delivery may have come first)."""
        s = tables.shipments
        self.session.execute(pg_insert(s).values(shipment_id=shipment_id, shop_id=shop_id, order_id=order_id, lines=units)
                        .on_conflict_do_update(index_elements=["shipment_id"], set_={"lines": units}))

    def shipment_delivered(self, shipment_id: str, shop_id: str, order_id: str, at: datetime) -> None:
        s = tables.shipments
        self.session.execute(pg_insert(s).values(shipment_id=shipment_id, shop_id=shop_id, order_id=order_id, delivered_at=at)
                        .on_conflict_do_update(index_elements=["shipment_id"], set_={"delivered_at": at}))

    def lock_order(self, shop_id: str, order_id: str) -> OrderCopy | None:
        """The order, its row locked: every decision about an order's returns and money is taken under this lock."""
        o = tables.orders
        row = self.session.execute(select(o).where(o.c.shop_id == shop_id, o.c.order_id == order_id).with_for_update()).first()
        if row is None:
            return None
        return OrderCopy(row.shop_id, row.order_id, row.currency, row.status,
                         {line["line_id"]: line["sku"] for line in row.lines},
                         PaidOrder(tuple(PaidLine(line["line_id"], line["quantity"], Decimal(line["unit_price"]))
                                         for line in row.lines), discount=row.discount, shipping=row.shipping))

    def delivered(self, shop_id: str, order_id: str) -> tuple[datetime | None, Units]:
        """When the last delivered shipment arrived, and the units delivered per line."""
        s = tables.shipments
        rows = self.session.execute(select(s.c.lines, s.c.delivered_at).where(
            s.c.shop_id == shop_id, s.c.order_id == order_id, s.c.delivered_at.is_not(None))).all()
        units: Units = {}
        for lines, _ in rows:
            for line_id, n in (lines or {}).items():
                units[line_id] = units.get(line_id, 0) + n
        return max((at for _, at in rows), default=None), units

    def already_returned(self, shop_id: str, order_id: str) -> Units:
        """Units of each line in returns that were not rejected: returned, or authorised and on their way."""
        r = tables.returns
        units: Units = {}
        for lines in self.session.execute(select(r.c.lines).where(r.c.shop_id == shop_id, r.c.order_id == order_id,
                                                             r.c.status != "rejected")).scalars():
            for line in lines:
                units[line["line_id"]] = units.get(line["line_id"], 0) + line["quantity"]
        return units

    def return_exists(self, shop_id: str, return_id: str) -> bool:
        r = tables.returns
        return self.session.execute(select(r.c.return_id).where(r.c.shop_id == shop_id, r.c.return_id == return_id)
                               ).first() is not None

    def add_return(self, shop_id: str, return_id: str, order_id: str, lines: Sequence[Mapping[str, Any]],
                   requested_at: datetime, now: datetime, *, rma: str | None = None,
                   reasons: Sequence[str] = ()) -> None:
        """An authorised return (with its RMA) or a rejected one (with its reasons)."""
        self.session.execute(pg_insert(tables.returns).values(
            shop_id=shop_id, return_id=return_id, order_id=order_id, lines=list(lines), requested_at=requested_at,
            updated_at=now, status="authorised" if rma else "rejected", rma=rma, reasons=list(reasons)))

    def lock_return(self, rma: str) -> tuple[OrderCopy, Return]:
        """The order and the return of an RMA, the order's row locked first (the lock order of every refund)."""
        r = tables.returns
        found = self.session.execute(select(r.c.shop_id, r.c.order_id).where(r.c.rma == rma)).first()
        order = self.lock_order(found.shop_id, found.order_id) if found else None
        if found is None or order is None:
            raise InspectionError(f"no authorised return has RMA {rma!r}")
        row = self.session.execute(select(r).where(r.c.rma == rma).with_for_update()).one()
        return order, Return(row.shop_id, row.return_id, row.order_id, row.rma, row.status, row.lines, dict(row.received),
                             {k: dict(v) for k, v in row.dispositions.items()})

    def update_return(self, rma: str, now: datetime, *, status: str, received: Units,
                      dispositions: Dispositions | None = None) -> None:
        r = tables.returns
        values: dict[str, Any] = {"status": status, "received": received, "updated_at": now, "version": r.c.version + 1}
        if dispositions is not None:
            values["dispositions"] = dispositions
        self.session.execute(update(r).where(r.c.rma == rma).values(**values))

    def refund_history(self, shop_id: str, order_id: str) -> History:
        """What earlier refunds of the order paid: units per line, whether shipping went back, and the total."""
        f = tables.refunds
        units: Units = {}
        shipping, paid = False, 0
        for row in self.session.execute(select(f.c.units, f.c.shipping_refunded, f.c.amount_cents)
                                   .where(f.c.shop_id == shop_id, f.c.order_id == order_id)):
            for line_id, n in row.units.items():
                units[line_id] = units.get(line_id, 0) + n
            shipping = shipping or row.shipping_refunded
            paid += row.amount_cents
        return History(units, shipping, paid)

    def add_refund(self, refund_id: str, returned: Return, values: Mapping[str, Any], now: datetime) -> bool:
        """False when the return was refunded already: (shop_id, return_id) is unique, so never twice."""
        inserted = self.session.execute(pg_insert(tables.refunds).values(
            refund_id=refund_id, shop_id=returned.shop_id, return_id=returned.return_id, order_id=returned.order_id,
            issued_at=now, **values).on_conflict_do_nothing().returning(tables.refunds.c.refund_id)).first()
        return inserted is not None

    def policy_for(self, shop_id: str, settings: ReturnsSettings) -> ReturnPolicy:
        p = tables.policies
        row = self.session.execute(select(p).where(p.c.shop_id == shop_id)).first()
        if row is None:
            return default_policy(settings)
        return ReturnPolicy(window_days=row.window_days, time_zone=row.time_zone,
                            final_sale_skus=frozenset(row.final_sale_skus),
                            restocking_fee_pct=_plain(row.restocking_fee_pct))

    def set_policy(self, shop_id: str, policy: ReturnPolicy, now: datetime) -> None:
        values = {"window_days": policy.window_days, "time_zone": policy.time_zone,
                  "final_sale_skus": sorted(policy.final_sale_skus), "restocking_fee_pct": Decimal(policy.restocking_fee_pct),
                  "updated_at": now}
        self.session.execute(pg_insert(tables.policies).values(shop_id=shop_id, **values)
                        .on_conflict_do_update(index_elements=["shop_id"], set_=values))


def default_policy(settings: ReturnsSettings) -> ReturnPolicy:
    return ReturnPolicy(window_days=settings.returns_window_days, time_zone=settings.returns_time_zone,
                        restocking_fee_pct=settings.returns_restocking_fee_pct)


def _plain(pct: Decimal) -> Decimal:
    """10.00 from NUMERIC(5, 2) reads back as 10, so that explanations say "10%"."""
    return pct.quantize(Decimal(1)) if pct == pct.to_integral_value() else pct.normalize()


Work = UnitOfWork[Store]
"""The returns service's unit of work: what its handlers are given."""
