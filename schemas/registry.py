"""Which event types each topic carries, at which schema versions, and how raw bytes become an Event.

The topic is part of the contract: `order.cancelled` on `shop.orders` is a shop's request, on
`orders.events` it is the confirmed cancellation, and an event type a topic does not carry is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

import pydantic_core
from pydantic import ValidationError

from schemas import carrier, orders, returns, routing, tracking, warehouse
from schemas.base import Payload
from schemas.envelope import Envelope, Event

PayloadType = type[Payload]


def _by_type(*models: PayloadType) -> dict[str, dict[int, PayloadType]]:
    table: dict[str, dict[int, PayloadType]] = {}
    for model in models:
        table.setdefault(model.EVENT_TYPE, {})[model.SCHEMA_VERSION] = model
    return table


TOPICS: Mapping[str, dict[str, dict[int, PayloadType]]] = {
    "shop.orders": _by_type(orders.OrderPlaced, orders.OrderCancellationRequested),
    "orders.events": _by_type(
        orders.OrderAccepted, orders.OrderRejected, orders.OrderCancelled, orders.OrderCancellationRefused
    ),
    "warehouse.scans": _by_type(
        warehouse.StockReceived, warehouse.StockCounted, warehouse.PickConfirmed, warehouse.PickShort,
        warehouse.ParcelPacked, returns.ReturnParcelReceived, returns.ReturnParcelInspected,
    ),
    "warehouse.events": _by_type(
        warehouse.StockReserved, warehouse.OrderBackordered, warehouse.PicklistIssued, warehouse.ShipmentPacked,
        warehouse.StockLow,
    ),
    "routing.events": _by_type(routing.RoutePlanned, routing.StopUnassigned, routing.DeliveryMethodChosen),
    "carrier.scans": _by_type(
        carrier.ShipmentPickedUp, carrier.ShipmentOutForDelivery, carrier.ShipmentDelivered,
        carrier.ShipmentDeliveryFailed, carrier.ShipmentReturnedToSender,
    ),
    "tracking.events": _by_type(tracking.ShipmentStatusChanged),
    "shop.returns": _by_type(returns.ReturnRequested),
    "returns.events": _by_type(
        returns.ReturnAuthorised, returns.ReturnRejected, returns.ReturnReceived, returns.ReturnInspected,
        returns.RefundIssued,
    ),
}

ORDER_KEY = ("shop_id", "order_id")

KEY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "shop.orders": ORDER_KEY,
    "orders.events": ORDER_KEY,
    "warehouse.scans": ("warehouse_id",),
    "warehouse.events": ORDER_KEY,
    "routing.events": ("depot_id",),
    "carrier.scans": ("tracking_number",),
    "tracking.events": ("tracking_number",),
    "shop.returns": ORDER_KEY,
    "returns.events": ORDER_KEY,
}
"""The payload fields each topic is keyed (partitioned) by, joined with "/" (a character no id may hold)."""


def order_key(shop_id: str, order_id: str) -> str:
    """An order's key on every topic and its correlation id: order ids are the shop's own, unique per shop only."""
    return f"{shop_id}/{order_id}"


def current_version(topic: str, event_type: str) -> int:
    """The schema version Fulfil writes for an event type on a topic: the newest it knows."""
    return max(TOPICS[topic][event_type])

PUBLIC_TOPICS: tuple[str, ...] = ("shop.orders", "shop.returns", "warehouse.scans", "carrier.scans")
"""Topics written by parties outside Fulfil: their events are the published contract."""

SHOP_BOUND: Mapping[str, str] = {"shop.orders": "shop_id", "shop.returns": "shop_id"}
"""Topics where a shop acts for itself only: the envelope's `source` must be `shop:<this payload field>`."""


class DecodeError(ValueError):
    """Raw bytes that are not a valid event for their topic; the message says why, field by field."""


def _describe(error: ValidationError, prefix: str = "") -> str:
    """Each broken rule with the path of its field, never the value: a value may be a customer's name, e-mail,
    phone or address, and this sentence goes into logs and dead-letter headers."""
    parts = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        where = prefix + ".".join(str(p) for p in item["loc"])
        parts.append(f"{where or '(root)'}: {_without_values(item['msg'])}")
    return "; ".join(parts)


def _without_values(message: str) -> str:
    """pydantic's messages are rules ("String should have at most 200 characters"), but a few quote the input
    (an enum or literal that did not match, a bad date string): keep the rule, drop the quote."""
    return message.split(", got ", 1)[0].split(", input was", 1)[0]


def payload_model(topic: str, event_type: str, schema_version: int) -> PayloadType:
    types = TOPICS.get(topic)
    if types is None:
        raise DecodeError(f"topic {topic!r} carries no Fulfil events")
    versions = types.get(event_type)
    if versions is None:
        raise DecodeError(
            f"event_type {event_type!r} is not carried on {topic!r}; expected one of {sorted(types)}"
        )
    model = versions.get(schema_version)
    if model is None:
        raise DecodeError(
            f"schema_version {schema_version} of {event_type!r} is unknown; known versions {sorted(versions)}"
        )
    return model


def _topics_of() -> dict[PayloadType, str]:
    found: dict[PayloadType, str] = {}
    for topic, types in TOPICS.items():
        for versions in types.values():
            for model in versions.values():
                if model in found:
                    raise AssertionError(f"{model.__name__} is on {found[model]} and {topic}: a model has one topic")
                found[model] = topic
    return found


TOPIC_OF: Mapping[PayloadType, str] = _topics_of()
"""The one topic that carries each payload model: what a handler of the model reads, where an emit of it goes."""


def _joined(payload: Payload, fields: tuple[str, ...]) -> str | None:
    values = [getattr(payload, name, None) for name in fields]
    return "/".join(str(value) for value in values) if values and None not in values else None


def key_of(payload: Payload) -> str:
    """The partition key of a payload on its topic: its own KEY fields, or its topic's, joined with "/"."""
    key = _joined(payload, type(payload).KEY or KEY_FIELDS[TOPIC_OF[type(payload)]])
    if key is None:
        raise ValueError(f"{type(payload).__name__} has no key fields set")
    return key


def correlation_of(payload: Payload) -> str:
    """The correlation id a service gives an event it emits: its CORRELATION fields, else its key."""
    fields = type(payload).CORRELATION
    return (_joined(payload, fields) if fields else None) or key_of(payload)


def message_key(topic: str, event: Event[Payload]) -> str:
    """The partition key of an event on a topic (falls back to the correlation id)."""
    fields = type(event.payload).KEY or KEY_FIELDS.get(topic, ())
    return _joined(event.payload, fields) or event.envelope.correlation_id


def decode(topic: str, raw: bytes | None) -> Event[Payload]:
    """Parse and validate one message, or raise DecodeError with a precise reason."""
    event = decode_wanted(topic, raw, None)
    assert event is not None
    return event


def decode_wanted(topic: str, raw: bytes | None, wanted: Collection[str] | None) -> Event[Payload] | None:
    """Like `decode`, but None (without validating) for an event type the caller does not handle: a consumer
    need not pay for validating what it will skip. None for `wanted` means every type."""
    if raw is None or raw == b"":
        raise DecodeError("empty message (no value)")
    try:
        document = pydantic_core.from_json(raw)  # pydantic's Rust parser: about twice as fast as json.loads
    except ValueError as exc:
        raise DecodeError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"the envelope must be a JSON object, got {type(document).__name__}")
    if b"\\u0000" in raw and (where := _nul_at(document)) is not None:  # JSON can carry NUL only escaped
        raise DecodeError(f"{where}: contains a NUL character (\\u0000), which no text field may hold")
    if wanted is not None and document.get("event_type") not in wanted and document.get("event_type") in TOPICS.get(
            topic, {}):
        return None
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as exc:
        raise DecodeError(f"invalid envelope: {_describe(exc)}") from None
    model = payload_model(topic, envelope.event_type, envelope.schema_version)
    try:
        payload = model.model_validate(envelope.payload)
    except ValidationError as exc:
        raise DecodeError(f"invalid {envelope.event_type} payload: {_describe(exc, 'payload.')}") from None
    if (field := SHOP_BOUND.get(topic)) is not None and envelope.source != f"shop:{getattr(payload, field)}":
        raise DecodeError(f"source {envelope.source!r} may not act for shop {getattr(payload, field)!r}: on {topic} "
                          f"an event's source must be shop:<payload.{field}>")
    return Event(envelope=envelope, payload=payload)


def _nul_at(value: object, path: str = "") -> str | None:
    """The first place (a dotted path) where a string or a key holds NUL; PostgreSQL's text and jsonb cannot
    store it. Unpaired surrogates never get this far: the JSON parser refuses them."""
    if isinstance(value, str):
        return (path or "value") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner.replace("\x00", "\\u0000")
            if (found := _nul_at(item, inner)) is not None:
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            if (found := _nul_at(item, f"{path}[{n}]")) is not None:
                return found
    return None


def event_times(event: Event[Payload]) -> list[tuple[str, datetime]]:
    """When the event says it happened: the envelope's `occurred_at` and the payload's own `*_at` times (a scan's
    `scanned_at`, an order's `placed_at`, ...). Times inside the payload that look ahead on purpose (delivery
    windows, planned arrivals) are nested or named otherwise and are not among them."""
    times = [("occurred_at", event.envelope.occurred_at)]
    for name in type(event.payload).model_fields:
        value = getattr(event.payload, name)
        if name.endswith("_at") and isinstance(value, datetime):
            times.append((f"payload.{name}", value))
    return times
