"""One function per consumed event type: (unit of work, event, context) -> events to emit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from uuid import UUID

from sqlalchemy import ColumnElement, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from schemas.envelope import Event
from schemas.orders import (
    OrderAccepted,
    OrderCancellationRefused,
    OrderCancellationRequested,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    RejectionReason,
)
from schemas.warehouse import OrderBackordered, PicklistIssued, ShipmentPacked, StockReserved
from services.common.db import UnitOfWork
from services.common.handling import Context, Emit, Handlers
from services.common.logging import get_logger
from services.orders import tables
from services.orders.domain.errors import IllegalTransition
from services.orders.domain.state_machine import OrderStatus, Trigger, decide_cancellation, next_status
from services.orders.domain.validation import OrderRules, validate_order
from services.orders.settings import OrdersSettings

log = get_logger(__name__)
handlers = Handlers()


@lru_cache(maxsize=4)
def _catalogue(path: Path | None) -> frozenset[str] | None:
    if path is None:
        return None
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def rules_from(settings: OrdersSettings) -> OrderRules:
    return OrderRules(
        catalogue=_catalogue(settings.orders_catalogue_path),
        max_window_days=settings.orders_max_window_days,
        min_lead=timedelta(minutes=settings.orders_min_lead_minutes),
        price_tolerance=Decimal(settings.orders_price_tolerance),
    )


OrderId = tuple[str, str]
"""(shop_id, order_id): order ids are the shop's own, so only the pair names an order."""


def _record_transition(uow: UnitOfWork, order: OrderId, before: str | None, after: str, at: datetime,
                       event_id: UUID) -> None:
    uow.session.execute(insert(tables.transitions).values(
        shop_id=order[0], order_id=order[1], from_status=before, to_status=after, at=at, event_id=event_id))


@handlers.on
def place_orders(uow: UnitOfWork, events: Sequence[Event[OrderPlaced]], ctx: Context[OrdersSettings]) -> list[Emit]:
    """Validate each order and store it. A shop uses an order id once: a placement under an id the shop already
    used is rejected (`order_id_in_use`), except that a rejected order may be placed again under its id (a
    corrected re-send). Other shops' ids are not looked at: each shop has its own. Batched: one multi-row insert
    per round of distinct ids (almost always one) and one for the transitions."""
    rules = rules_from(ctx.settings)
    decided = [(event, event.payload, validate_order(event.payload, rules, ctx.now)) for event in events]
    emitters = {event.event_id: ctx.emitter(event) for event in events}
    transitions = []
    for round_ in _distinct_ids(decided):
        stored = _store(uow, round_, ctx.now)
        for event, order, reasons in round_:
            if (order.shop_id, order.order_id) not in stored:
                log.info("order.id_in_use", shop_id=order.shop_id, order_id=order.order_id,
                         event_id=str(event.event_id))
                reasons = [RejectionReason(field="order_id", code="order_id_in_use", message=(
                    f"order id {order.order_id!r} is already in use by shop {order.shop_id!r}: an id can be "
                    "placed again only after the order under it was rejected"))]
                emitters[event.event_id].emit(OrderRejected(
                    order_id=order.order_id, shop_id=order.shop_id, rejected_at=ctx.now, reasons=reasons))
                continue
            status = OrderStatus.REJECTED if reasons else OrderStatus.ACCEPTED
            transitions.append({"shop_id": order.shop_id, "order_id": order.order_id,
                                "from_status": stored[(order.shop_id, order.order_id)],
                                "to_status": status.value, "at": ctx.now, "event_id": event.event_id})
            emitters[event.event_id].emit(
                OrderRejected(order_id=order.order_id, shop_id=order.shop_id, rejected_at=ctx.now, reasons=reasons)
                if reasons else
                # Built from an already validated order, field by field: no second validation of the whole order.
                OrderAccepted.model_construct(accepted_at=ctx.now,
                                              **{name: getattr(order, name) for name in ACCEPTED_FIELDS}))
    if transitions:
        uow.session.execute(insert(tables.transitions), transitions)
    return [emit for emitter in emitters.values() for emit in emitter.emits]


Decided = tuple[Event[OrderPlaced], OrderPlaced, list[RejectionReason]]


def _distinct_ids(decided: list[Decided]) -> list[list[Decided]]:
    """Rounds in which each order appears once, in arrival order: one statement may not touch a row twice."""
    rounds: list[list[Decided]] = []
    for item in decided:
        for round_ in rounds:
            if all((other[1].shop_id, other[1].order_id) != (item[1].shop_id, item[1].order_id) for other in round_):
                round_.append(item)
                break
        else:
            rounds.append([item])
    return rounds


def _store(uow: UnitOfWork, decided: list[Decided], now: datetime) -> dict[OrderId, str | None]:
    """Insert the orders; a rejected order is replaced. Returns (shop, id) -> the status it had before (None when
    new) for the orders this placement now owns."""
    o = tables.orders
    rows = [
        {"order_id": order.order_id, "shop_id": order.shop_id,
         "status": (OrderStatus.REJECTED if reasons else OrderStatus.ACCEPTED).value,
         "placed_at": order.placed_at, "updated_at": now, "placed_event_id": event.event_id,
         "document": event.envelope.payload,  # as received (validated above); no re-serialising
         "rejection_reasons": [r.model_dump() for r in reasons] or None}
        for event, order, reasons in decided
    ]
    insert_ = pg_insert(o)
    statement = insert_.on_conflict_do_update(
        index_elements=["shop_id", "order_id"],
        set_={c: insert_.excluded[c] for c in ("status", "placed_at", "updated_at", "placed_event_id", "document",
                                                "rejection_reasons")},
        where=o.c.status == OrderStatus.REJECTED.value,
    ).returning(o.c.shop_id, o.c.order_id, text("xmax = 0"))
    return {(shop_id, order_id): (None if inserted else OrderStatus.REJECTED.value)
            for shop_id, order_id, inserted in uow.session.execute(statement, rows)}


ACCEPTED_FIELDS = {"order_id", "shop_id", "placed_at", "currency", "customer", "delivery_address", "delivery_window",
                   "lines", "discount_total", "shipping_total", "total", "delivery_method", "collect_at"}


def _where(order: OrderId) -> ColumnElement[bool]:
    return (tables.orders.c.shop_id == order[0]) & (tables.orders.c.order_id == order[1])


def _load(uow: UnitOfWork, order: OrderId) -> OrderStatus | None:
    status = uow.session.execute(select(tables.orders.c.status).where(_where(order)).with_for_update()).scalar()
    return OrderStatus(status) if status else None


@handlers.on
def cancel_order(uow: UnitOfWork, event: Event[OrderCancellationRequested], ctx: Context[OrdersSettings]) -> list[Emit]:
    request, emitter = event.payload, ctx.emitter(event)
    order = (request.shop_id, request.order_id)
    status = _load(uow, order)
    decision = decide_cancellation(status)
    if decision.ignore:
        return []
    if not decision.cancel:
        emitter.emit(OrderCancellationRefused(order_id=request.order_id, shop_id=request.shop_id, refused_at=ctx.now,
                                              code=decision.code, message=decision.message))
        return emitter.emits
    assert status is not None
    after = next_status(status, Trigger.CANCEL)
    uow.session.execute(update(tables.orders).where(_where(order)).values(status=after.value, updated_at=ctx.now))
    _record_transition(uow, order, status.value, after.value, ctx.now, event.event_id)
    emitter.emit(OrderCancelled(order_id=request.order_id, shop_id=request.shop_id, cancelled_at=ctx.now,
                                previous_status=status.value, reason=request.reason))
    return emitter.emits


Progress = StockReserved | OrderBackordered | PicklistIssued | ShipmentPacked


def _triggers(payload: Progress) -> list[tuple[OrderId, Trigger]]:
    """What a warehouse event means for the orders it names."""
    if isinstance(payload, StockReserved):
        return [((payload.shop_id, payload.order_id), Trigger.ALLOCATE)]
    if isinstance(payload, OrderBackordered):
        return [((payload.shop_id, payload.order_id), Trigger.BACKORDER)]
    if isinstance(payload, PicklistIssued):
        return [(order, Trigger.START_PICKING) for order in sorted({(o.shop_id, o.order_id) for o in payload.orders})]
    return [((payload.shop_id, payload.order_id), Trigger.PACK)]


@handlers.on
def note_progress(uow: UnitOfWork, events: Sequence[Event[Progress]], ctx: Context[OrdersSettings]) -> list[Emit]:
    """Batched: the warehouse's progress moves orders along, in event order. One locking read, one update
    and one insert of transitions for the whole run; refused or unknown moves are logged and change nothing."""
    o = tables.orders
    steps = [(event, order, trigger) for event in events for order, trigger in _triggers(event.payload)]
    ids = sorted({order for _, order, _ in steps})
    status = {(row.shop_id, row.order_id): OrderStatus(row.status) for row in uow.session.execute(
        select(o.c.shop_id, o.c.order_id, o.c.status).where(tuple_(o.c.shop_id, o.c.order_id).in_(ids))
        .order_by(o.c.shop_id, o.c.order_id).with_for_update())}
    changed: dict[OrderId, OrderStatus] = {}
    transitions = []
    for event, order, trigger in steps:
        current = status.get(order)
        if current is None:
            log.warning("order.unknown", shop_id=order[0], order_id=order[1], trigger=trigger.value,
                        event_id=str(event.event_id))
            continue
        try:
            after = next_status(current, trigger)
        except IllegalTransition as exc:
            log.info("order.transition_ignored", shop_id=order[0], order_id=order[1], event_id=str(event.event_id),
                     reason=str(exc))
            continue
        if after != current:
            status[order] = changed[order] = after
            transitions.append({"shop_id": order[0], "order_id": order[1], "from_status": current.value,
                                "to_status": after.value, "at": ctx.now, "event_id": event.event_id})
    if changed:
        uow.session.execute(_SET_STATUS, {"shops": [shop for shop, _ in changed], "ids": [i for _, i in changed],
                                          "statuses": [a.value for a in changed.values()], "now": ctx.now})
        uow.session.execute(insert(tables.transitions), transitions)
    return []


_SET_STATUS = text("""
    UPDATE orders.orders AS o SET status = v.status, updated_at = :now
      FROM unnest(CAST(:shops AS text[]), CAST(:ids AS text[]), CAST(:statuses AS text[]))
           AS v(shop_id, order_id, status)
     WHERE o.shop_id = v.shop_id AND o.order_id = v.order_id
""")
"""One statement for a whole run (psycopg2's executemany would send one UPDATE per order)."""
