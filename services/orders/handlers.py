"""One function per consumed event type: (unit of work, event, context); each loads through the unit of work's
store, decides with the domain, saves, and publishes through the unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

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
from services.common.handling import Context, Handlers
from services.common.logging import get_logger
from services.orders.domain.errors import IllegalTransition
from services.orders.domain.state_machine import OrderStatus, Trigger, decide_cancellation, next_status
from services.orders.domain.validation import OrderRules, validate_order
from services.orders.settings import OrdersSettings
from services.orders.store import OrderId, Placement, Transition, Work

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


@handlers.on
def place_orders(uow: Work, events: Sequence[Event[OrderPlaced]], ctx: Context[OrdersSettings]) -> None:
    """Validate each order and store it. A shop uses an order id once: a placement under an id the shop already
    used is rejected (`order_id_in_use`), except that a rejected order may be placed again under its id (a
    corrected re-send). Other shops' ids are not looked at: each shop has its own. Batched: one multi-row insert
    per round of distinct orders (almost always one) and one for the transitions."""
    rules = rules_from(ctx.settings)
    placements = {event.event_id: Placement(
        (event.payload.shop_id, event.payload.order_id), event.payload.placed_at, event.event_id,
        event.envelope.payload, validate_order(event.payload, rules, ctx.now)) for event in events}
    emitters = {event.event_id: uow.events(event) for event in events}
    transitions = []
    for round_ in _rounds(events):
        stored = uow.store.place([placements[event.event_id] for event in round_], ctx.now)
        for event in round_:
            placement, emitter = placements[event.event_id], emitters[event.event_id]
            if placement.order not in stored:
                log.info("order.id_in_use", shop_id=placement.order[0], order_id=placement.order[1],
                         event_id=str(event.event_id))
                emitter.emit(_rejected(event.payload, [_in_use(event.payload)], ctx.now))
                continue
            transitions.append(Transition(placement.order, stored[placement.order], placement.status, ctx.now,
                                          event.event_id))
            emitter.emit(_rejected(event.payload, placement.reasons, ctx.now) if placement.reasons
                         else _accepted(event.payload, ctx.now))
    uow.store.record(transitions)


def _rounds(events: Sequence[Event[OrderPlaced]]) -> list[list[Event[OrderPlaced]]]:
    """Rounds in which each order appears once, in arrival order: one statement may not touch a row twice."""
    rounds: list[list[Event[OrderPlaced]]] = []
    seen: dict[tuple[str, str], int] = {}  # order -> how many rounds it is in already
    for event in events:
        order = (event.payload.shop_id, event.payload.order_id)
        n = seen[order] = seen.get(order, 0) + 1
        if n > len(rounds):
            rounds.append([])
        rounds[n - 1].append(event)
    return rounds


ACCEPTED_FIELDS = {"order_id", "shop_id", "placed_at", "currency", "customer", "delivery_address", "delivery_window",
                   "lines", "discount_total", "shipping_total", "total", "delivery_method", "collect_at"}


def _accepted(order: OrderPlaced, now: datetime) -> OrderAccepted:
    """Built from an already validated order, field by field: no second validation of the whole order."""
    return OrderAccepted.model_construct(accepted_at=now, **{name: getattr(order, name) for name in ACCEPTED_FIELDS})


def _rejected(order: OrderPlaced, reasons: Sequence[RejectionReason], now: datetime) -> OrderRejected:
    return OrderRejected(order_id=order.order_id, shop_id=order.shop_id, rejected_at=now, reasons=list(reasons))


def _in_use(order: OrderPlaced) -> RejectionReason:
    return RejectionReason(field="order_id", code="order_id_in_use", message=(
        f"order id {order.order_id!r} is already in use by shop {order.shop_id!r}: an id can be placed again only "
        "after the order under it was rejected"))


@handlers.on
def cancel_order(uow: Work, event: Event[OrderCancellationRequested],
                 ctx: Context[OrdersSettings]) -> None:
    request, emitter = event.payload, uow.events(event)
    order = (request.shop_id, request.order_id)
    status = uow.store.lock_statuses([order]).get(order)
    decision = decide_cancellation(status)
    if decision.ignore:
        return
    if status is None or not decision.cancel:
        emitter.emit(OrderCancellationRefused(order_id=request.order_id, shop_id=request.shop_id, refused_at=ctx.now,
                                              code=decision.code, message=decision.message))
        return
    after = next_status(status, Trigger.CANCEL)
    uow.store.set_statuses({order: after}, ctx.now)
    uow.store.record([Transition(order, status, after, ctx.now, event.event_id)])
    emitter.emit(OrderCancelled(order_id=request.order_id, shop_id=request.shop_id, cancelled_at=ctx.now,
                                previous_status=status.value, reason=request.reason))


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
def note_progress(uow: Work, events: Sequence[Event[Progress]], ctx: Context[OrdersSettings]) -> None:
    """Batched: the warehouse's progress moves orders along, in event order. One locking read, one update
    and one insert of transitions for the whole run; refused or unknown moves are logged and change nothing."""
    steps = [(event, order, trigger) for event in events for order, trigger in _triggers(event.payload)]
    status = uow.store.lock_statuses(list({order for _, order, _ in steps}))
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
            transitions.append(Transition(order, current, after, ctx.now, event.event_id))
    uow.store.set_statuses(changed, ctx.now)
    uow.store.record(transitions)
