"""One function per consumed event type: (unit of work, event, context) -> events to emit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from uuid import UUID

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from schemas.envelope import Envelope, Event, make_event
from schemas.orders import (
    OrderAccepted, OrderCancellationRefused, OrderCancellationRequested, OrderCancelled, OrderPlaced, OrderRejected,
    RejectionReason,
)
from schemas.warehouse import OrderBackordered, PicklistIssued, ShipmentPacked, StockReserved
from services.common.db import UnitOfWork
from services.common.logging import get_logger
from services.common.processor import Batched, Context, Emit, HandlerTable
from services.common.settings import Settings
from services.orders import tables
from services.orders.domain.errors import IllegalTransition
from services.orders.domain.state_machine import OrderStatus, Trigger, decide_cancellation, next_status
from services.orders.domain.validation import OrderRules, validate_order

log = get_logger(__name__)
SOURCE = "service:orders"
OUT = "orders.events"


@lru_cache(maxsize=4)
def _catalogue(path: Path | None) -> frozenset[str] | None:
    if path is None:
        return None
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def rules_from(settings: Settings) -> OrderRules:
    return OrderRules(
        catalogue=_catalogue(settings.orders_catalogue_path),
        max_window_days=settings.orders_max_window_days,
        min_lead=timedelta(minutes=settings.orders_min_lead_minutes),
        price_tolerance=Decimal(settings.orders_price_tolerance),
    )


def _emit(payload: OrderAccepted | OrderRejected | OrderCancelled | OrderCancellationRefused, order_id: str,
          cause: Envelope, now: datetime) -> Emit:
    return Emit(OUT, order_id, make_event(payload, source=SOURCE, correlation_id=order_id, occurred_at=now,
                                          cause=cause))


def _record_transition(uow: UnitOfWork, order_id: str, before: str | None, after: str, at: datetime,
                       event_id: UUID) -> None:
    uow.session.execute(insert(tables.transitions).values(
        order_id=order_id, from_status=before, to_status=after, at=at, event_id=event_id))


def place_orders(uow: UnitOfWork, events: Sequence[Event], ctx: Context) -> list[Emit]:
    """Validate each order and store it. An id is taken once: a placement under an id already in use is rejected
    (`order_id_in_use`), except that a shop may place a rejected order again under its id (a corrected re-send).
    Batched: one multi-row insert per round of distinct ids (almost always one) and one for the transitions."""
    rules = rules_from(ctx.settings)
    decided = []
    for event in events:
        order = event.payload
        assert isinstance(order, OrderPlaced)
        decided.append((event, order, validate_order(order, rules, ctx.now)))
    emits: list[Emit] = []
    transitions = []
    for round_ in _distinct_ids(decided):
        stored = _store(uow, round_, ctx.now)
        for event, order, reasons in round_:
            if order.order_id not in stored:
                log.info("order.id_in_use", order_id=order.order_id, event_id=str(event.event_id))
                reasons = [RejectionReason(field="order_id", code="order_id_in_use", message=(
                    f"order id {order.order_id!r} is already in use: an id can be placed again only by its shop "
                    "after the order under it was rejected"))]
                payload: OrderAccepted | OrderRejected = OrderRejected(
                    order_id=order.order_id, shop_id=order.shop_id, rejected_at=ctx.now, reasons=reasons)
                emits.append(_emit(payload, order.order_id, event.envelope, ctx.now))
                continue
            status = OrderStatus.REJECTED if reasons else OrderStatus.ACCEPTED
            transitions.append({"order_id": order.order_id, "from_status": stored[order.order_id],
                                "to_status": status.value, "at": ctx.now, "event_id": event.event_id})
            if reasons:
                payload = OrderRejected(order_id=order.order_id, shop_id=order.shop_id, rejected_at=ctx.now,
                                        reasons=reasons)
            else:
                # Built from an already validated order, field by field: no second validation of the whole order.
                payload = OrderAccepted.model_construct(accepted_at=ctx.now,
                                                        **{name: getattr(order, name) for name in ACCEPTED_FIELDS})
            emits.append(_emit(payload, order.order_id, event.envelope, ctx.now))
    if transitions:
        uow.session.execute(insert(tables.transitions), transitions)
    return emits


Decided = tuple[Event, OrderPlaced, list[RejectionReason]]


def _distinct_ids(decided: list[Decided]) -> list[list[Decided]]:
    """Rounds in which each order id appears once, in arrival order: one statement may not touch a row twice."""
    rounds: list[list[Decided]] = []
    for item in decided:
        for round_ in rounds:
            if all(other[1].order_id != item[1].order_id for other in round_):
                round_.append(item)
                break
        else:
            rounds.append([item])
    return rounds


def _store(uow: UnitOfWork, decided: list[Decided], now: datetime) -> dict[str, str | None]:
    """Insert the orders; a rejected order of the same shop is replaced. Returns id -> the status it had before
    (None when new) for the ids this placement now owns."""
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
        index_elements=["order_id"],
        set_={c: insert_.excluded[c] for c in ("status", "placed_at", "updated_at", "placed_event_id", "document",
                                                "rejection_reasons")},
        where=(o.c.status == OrderStatus.REJECTED.value) & (o.c.shop_id == insert_.excluded.shop_id),
    ).returning(o.c.order_id, text("xmax = 0"))
    return {order_id: (None if inserted else OrderStatus.REJECTED.value)
            for order_id, inserted in uow.session.execute(statement, rows)}


ACCEPTED_FIELDS = {"order_id", "shop_id", "placed_at", "currency", "customer", "delivery_address", "delivery_window",
                   "lines", "discount_total", "shipping_total", "total", "delivery_method", "collect_at"}


def _load(uow: UnitOfWork, order_id: str) -> tuple[OrderStatus, str] | None:
    row = uow.session.execute(
        select(tables.orders.c.status, tables.orders.c.shop_id)
        .where(tables.orders.c.order_id == order_id).with_for_update()
    ).first()
    return (OrderStatus(row.status), row.shop_id) if row else None


def _move(uow: UnitOfWork, order_id: str, trigger: Trigger, event: Event, ctx: Context) -> OrderStatus | None:
    """Apply a trigger to a stored order; a refused or unknown one is logged and changes nothing."""
    loaded = _load(uow, order_id)
    if loaded is None:
        log.warning("order.unknown", order_id=order_id, trigger=trigger.value, event_id=str(event.event_id))
        return None
    current, _ = loaded
    try:
        after = next_status(current, trigger)
    except IllegalTransition as exc:
        log.info("order.transition_ignored", order_id=order_id, event_id=str(event.event_id), reason=str(exc))
        return None
    if after != current:
        uow.session.execute(update(tables.orders).where(tables.orders.c.order_id == order_id)
                            .values(status=after.value, updated_at=ctx.now))
        _record_transition(uow, order_id, current.value, after.value, ctx.now, event.event_id)
    return after


def cancel_order(uow: UnitOfWork, event: Event, ctx: Context) -> list[Emit]:
    request = event.payload
    assert isinstance(request, OrderCancellationRequested)
    loaded = _load(uow, request.order_id)
    status, owner = loaded if loaded else (None, None)
    decision = decide_cancellation(status, owner, request.shop_id)
    if decision.ignore:
        return []
    if not decision.cancel:
        refusal = OrderCancellationRefused(order_id=request.order_id, shop_id=request.shop_id, refused_at=ctx.now,
                                           code=decision.code, message=decision.message)
        return [_emit(refusal, request.order_id, event.envelope, ctx.now)]
    assert status is not None
    _move(uow, request.order_id, Trigger.CANCEL, event, ctx)
    return [_emit(OrderCancelled(order_id=request.order_id, shop_id=request.shop_id, cancelled_at=ctx.now,
                                 previous_status=status.value, reason=request.reason),
                  request.order_id, event.envelope, ctx.now)]


def _triggers(event: Event) -> list[tuple[str, Trigger]]:
    """What a warehouse event means for the orders it names."""
    payload = event.payload
    if isinstance(payload, StockReserved):
        return [(payload.order_id, Trigger.ALLOCATE)]
    if isinstance(payload, OrderBackordered):
        return [(payload.order_id, Trigger.BACKORDER)]
    if isinstance(payload, PicklistIssued):
        return [(order_id, Trigger.START_PICKING) for order_id in sorted(set(payload.order_ids))]
    if isinstance(payload, ShipmentPacked):
        return [(payload.order_id, Trigger.PACK)]
    raise TypeError(f"no trigger for {event.envelope.event_type}")


def note_progress(uow: UnitOfWork, events: Sequence[Event], ctx: Context) -> list[Emit]:
    """Batched: the warehouse's progress moves orders along, in event order. One locking read, one update
    and one insert of transitions for the whole run; refused or unknown moves are logged and change nothing."""
    o = tables.orders
    steps = [(event, order_id, trigger) for event in events for order_id, trigger in _triggers(event)]
    ids = sorted({order_id for _, order_id, _ in steps})
    status = {row.order_id: OrderStatus(row.status) for row in uow.session.execute(
        select(o.c.order_id, o.c.status).where(o.c.order_id.in_(ids)).order_by(o.c.order_id).with_for_update())}
    changed: dict[str, OrderStatus] = {}
    transitions = []
    for event, order_id, trigger in steps:
        current = status.get(order_id)
        if current is None:
            log.warning("order.unknown", order_id=order_id, trigger=trigger.value, event_id=str(event.event_id))
            continue
        try:
            after = next_status(current, trigger)
        except IllegalTransition as exc:
            log.info("order.transition_ignored", order_id=order_id, event_id=str(event.event_id), reason=str(exc))
            continue
        if after != current:
            status[order_id] = changed[order_id] = after
            transitions.append({"order_id": order_id, "from_status": current.value, "to_status": after.value,
                                "at": ctx.now, "event_id": event.event_id})
    if changed:
        uow.session.execute(_SET_STATUS, {"ids": list(changed), "statuses": [a.value for a in changed.values()],
                                          "now": ctx.now})
        uow.session.execute(insert(tables.transitions), transitions)
    return []


_SET_STATUS = text("""
    UPDATE orders.orders AS o SET status = v.status, updated_at = :now
      FROM unnest(CAST(:ids AS text[]), CAST(:statuses AS text[])) AS v(order_id, status)
     WHERE o.order_id = v.order_id
""")
"""One statement for a whole run (psycopg2's executemany would send one UPDATE per order)."""

NOTE_PROGRESS = Batched(note_progress)
HANDLERS: HandlerTable = {
    "shop.orders": {"order.placed": Batched(place_orders), "order.cancelled": cancel_order},
    "warehouse.events": {
        "stock.reserved": NOTE_PROGRESS, "order.backordered": NOTE_PROGRESS,
        "picklist.issued": NOTE_PROGRESS, "shipment.packed": NOTE_PROGRESS,
    },
}
