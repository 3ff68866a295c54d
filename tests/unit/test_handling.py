"""Handlers are routed by the payload class they are typed for, and an emitted payload finds its topic, key and
correlation id in the contract: no handler names a topic, an event type or a key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from schemas import carrier
from schemas.base import Payload
from schemas.envelope import Event
from schemas.orders import OrderAccepted, OrderPlaced
from schemas.registry import KEY_FIELDS, TOPIC_OF, TOPICS, decode
from schemas.warehouse import StockLow
from services.common.db import UnitOfWork
from services.common.handling import Batched, Context, Emit, Emitter, Handlers
from services.common.settings import Settings
from tests.factories import order_accepted

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_handler_is_routed_by_the_payload_classes_it_is_typed_for() -> None:
    handlers = Handlers()

    @handlers.on
    def one(uow: UnitOfWork, event: Event[OrderPlaced], ctx: Context) -> list[Emit]:
        return []

    @handlers.on
    def many(uow: UnitOfWork, events: Sequence[Event[carrier.AnyScan]], ctx: Context) -> list[Emit]:
        return []

    assert handlers["shop.orders"]["order.placed"] is one
    scans = handlers["carrier.scans"]
    assert sorted(scans) == sorted(model.EVENT_TYPE for versions in TOPICS["carrier.scans"].values()
                                   for model in versions.values())
    assert {id(h) for h in scans.values()} == {id(scans["shipment.delivered"])}, "one run for every scan type"
    assert isinstance(scans["shipment.delivered"], Batched) and scans["shipment.delivered"].handle is many
    assert sorted(handlers) == ["carrier.scans", "shop.orders"]


def test_a_handler_without_a_payload_type_or_registered_twice_is_refused() -> None:
    handlers = Handlers()

    def untyped(uow: UnitOfWork, event: Event, ctx: Context) -> list[Emit]:
        return []

    with pytest.raises(TypeError, match="is not a payload class|type its event"):
        handlers.on(untyped)

    def first(uow: UnitOfWork, event: Event[OrderPlaced], ctx: Context) -> list[Emit]:
        return []

    handlers.on(first)
    with pytest.raises(ValueError, match="order.placed on shop.orders already has a handler"):
        handlers.on(first)


def test_an_emitted_payload_takes_its_topic_key_and_correlation_from_the_contract() -> None:
    cause = decode("orders.events", json.dumps(order_accepted("A-1", [("SKU-RED", 1)])).encode())
    emitter = Context(now=NOW, settings=Settings(), service="warehouse").emitter(cause)
    emitter.emit(StockLow(warehouse_id="W-1", sku="SKU-RED", available=1, reorder_point=2, detected_at=NOW))
    (emit,) = emitter.emits
    assert (emit.topic, emit.key, emit.event.envelope.correlation_id) == ("warehouse.events", "W-1", "W-1/SKU-RED")
    assert emit.event.envelope.source == "service:warehouse"
    assert emit.event.envelope.causation_id == cause.envelope.event_id


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
