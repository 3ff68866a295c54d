"""Handlers are routed by the payload class they are typed for, and an emitted payload finds its topic, key and
correlation id in the contract: no handler names a topic, an event type or a key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from schemas import carrier
from schemas.base import Payload
from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderPlaced
from schemas.registry import KEY_FIELDS, TOPIC_OF, TOPICS, decode
from schemas.warehouse import StockLow
from services.common.handling import Batched, Context, Emitter, Handlers
from services.common.unit_of_work import UnitOfWork, no_store
from tests.factories import order_accepted

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_handler_is_routed_by_the_payload_classes_it_is_typed_for() -> None:
    handlers = Handlers()

    @handlers.on
    def one(uow: UnitOfWork[Any], event: Event[OrderPlaced], ctx: Context[Any]) -> None:
        pass

    @handlers.on
    def many(uow: UnitOfWork[Any], events: Sequence[Event[carrier.AnyScan]], ctx: Context[Any]) -> None:
        pass

    assert handlers["shop.orders"]["order.placed"] is one
    scans = handlers["carrier.scans"]
    assert sorted(scans) == sorted(model.EVENT_TYPE for versions in TOPICS["carrier.scans"].values()
                                   for model in versions.values())
    assert {id(h) for h in scans.values()} == {id(scans["shipment.delivered"])}, "one run for every scan type"
    assert isinstance(scans["shipment.delivered"], Batched) and scans["shipment.delivered"].handle is many
    assert sorted(handlers) == ["carrier.scans", "shop.orders"]


def test_a_handler_without_a_payload_type_or_registered_twice_is_refused() -> None:
    handlers = Handlers()

    def untyped(uow: UnitOfWork[Any], event: Event, ctx: Context[Any]) -> None:
        pass

    with pytest.raises(TypeError, match="is not a payload class|type its event"):
        handlers.on(untyped)

    def first(uow: UnitOfWork[Any], event: Event[OrderPlaced], ctx: Context[Any]) -> None:
        pass

    handlers.on(first)
    with pytest.raises(ValueError, match="order.placed on shop.orders already has a handler"):
        handlers.on(first)


def test_an_emitted_payload_takes_its_topic_key_and_correlation_from_the_contract() -> None:
    cause = decode("orders.events", json.dumps(order_accepted("A-1", [("SKU-RED", 1)])).encode())
    uow = UnitOfWork(sessionmaker(), no_store, source="service:warehouse", now=NOW)
    uow.events(cause).emit(StockLow(warehouse_id="W-1", sku="SKU-RED", available=1, reorder_point=2, detected_at=NOW))
    (emit,) = uow.collect_new_events()
    assert (emit.topic, emit.key, emit.event.envelope.correlation_id) == ("warehouse.events", "W-1", "W-1/SKU-RED")
    assert emit.event.envelope.source == "service:warehouse"
    assert emit.event.envelope.causation_id == cause.envelope.event_id


def test_a_unit_of_work_collects_what_each_cause_published_once_and_keeps_ids_per_cause() -> None:
    """Asking twice for one cause's emitter continues its count (the same ids however the work is split);
    collecting drains, so work tried again after a failure starts with nothing published."""
    first, second = (decode("orders.events", json.dumps(order_accepted(order, [("SKU-RED", 1)])).encode())
                     for order in ("A-1", "A-2"))
    low = StockLow(warehouse_id="W-1", sku="SKU-RED", available=1, reorder_point=2, detected_at=NOW)
    uow = UnitOfWork(sessionmaker(), no_store, source="service:warehouse", now=NOW)
    uow.events(first).emit(low)
    uow.events(second).emit(low)
    uow.events(first).emit(low)
    emits = uow.collect_new_events()
    assert [e.event.envelope.causation_id for e in emits] == [first.event_id, first.event_id, second.event_id]
    assert len({e.event.event_id for e in emits}) == 3
    assert uow.collect_new_events() == []
    uow.events(first).emit(low)
    (again,) = uow.collect_new_events()
    assert again.event.event_id == emits[0].event.event_id, "a retry publishes the same id"


def test_an_order_event_is_keyed_and_correlated_by_shop_and_order() -> None:
    accepted = OrderAccepted.model_validate({**order_accepted("A-1", [("SKU-RED", 1)], shop_id="globex")["payload"]})
    emitter = Emitter("service:orders", NOW, namespace=uuid.uuid4())
    emitter.emit(accepted)
    (emit,) = emitter.emits
    assert (emit.topic, emit.key, emit.event.envelope.correlation_id) == ("orders.events", "globex/A-1",
                                                                          "globex/A-1")


@pytest.mark.parametrize("model", sorted(TOPIC_OF, key=lambda m: getattr(m, "__name__", "")),
                         ids=lambda m: getattr(m, "__name__", ""))
def test_every_payload_has_the_fields_its_key_and_correlation_are_made_of(model: type[Payload]) -> None:
    fields = set(model.model_fields)
    assert set(model.KEY or KEY_FIELDS[TOPIC_OF[model]]) <= fields
    assert set(model.CORRELATION or ()) <= fields
