"""Events the integration tests send, as shops, devices and services send them: JSON envelopes of the payloads
schemas.builders builds (the one set of builders), with the tests' own defaults (a customer in Gent, two lines
that add up). `envelope` wraps any dict, for what no builder would make (malformed events, old versions)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas import builders
from schemas.orders import Address, Customer
from schemas.registry import PUBLIC_TOPICS, TOPICS, current_version

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


GENT = Address(line1="Veldstraat 1", city="Gent", postcode="9000", country="BE", latitude=51.0543, longitude=3.7174)
CUSTOMER = Customer(name="Ann Example", email="ann@example.com", phone="+32 470 00 00 00")
LINES = [{"line_id": "1", "sku": "SKU-RED", "quantity": 2, "unit_price": "9.99"},
         {"line_id": "2", "sku": "SKU-BLUE", "quantity": 1, "unit_price": "25.00"}]


def order_payload(order_id: str = "o-1", *, shop_id: str = "acme", now: datetime | None = None,
                  lines: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid order: two lines, delivery tomorrow 10:00-12:00, totals that add up. `now` defaults to
    the real clock, since the orders service checks windows against it."""
    placed = builders.order_placed(order_id, shop_id, at=now or datetime.now(UTC),
                                   lines=LINES if lines is None else lines,
                                   address=GENT, customer=CUSTOMER, discount=Decimal("5.00"), **overrides)
    return placed.model_dump(mode="json")


def version_of(event_type: str, source: str) -> int:
    """The schema version Fulfil reads now for an event type: of the public topics for a shop's, a device's or a
    carrier's event, else of the services' own topics (return.received is on one of each)."""
    public = not source.startswith("service:")
    return next(current_version(topic, event_type) for topic in TOPICS
                if (topic in PUBLIC_TOPICS) == public and event_type in TOPICS[topic])


def envelope(event_type: str, payload: dict[str, Any], *, correlation_id: str, source: str = "shop:acme",
             event_id: uuid.UUID | None = None, occurred_at: datetime | None = None,
             schema_version: int | None = None) -> dict[str, Any]:
    return {"event_id": str(event_id or uuid.uuid4()), "event_type": event_type,
            "schema_version": schema_version or version_of(event_type, source),
            "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(), "source": source,
            "correlation_id": correlation_id,
            "causation_id": None, "payload": payload}


def order_placed(order_id: str = "o-1", *, event_id: uuid.UUID | None = None, now: datetime | None = None,
                 shop_id: str = "acme", **overrides: Any) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    placed = builders.order_placed(order_id, shop_id, at=now, lines=overrides.pop("lines", LINES), address=GENT,
                                   customer=CUSTOMER, discount=Decimal("5.00"), **overrides)
    return builders.document(placed, source=f"shop:{shop_id}", at=now, event_id=event_id)


def cancellation(order_id: str, *, shop_id: str = "acme", now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return builders.document(builders.cancellation_requested(order_id, shop_id, at=now), source=f"shop:{shop_id}",
                             at=now)


def return_requested(order_id: str, return_id: str, *, shop_id: str = "acme") -> dict[str, Any]:
    """A shop asks to take back one unopened unit of line 1."""
    now = datetime.now(UTC)
    return builders.document(builders.return_requested(return_id, order_id, [("1", "SKU-RED", 1)], shop_id=shop_id,
                                                       at=now), source=f"shop:{shop_id}", at=now)


def picklist_issued(order_ids: list[str], *, shop_id: str = "acme", warehouse_id: str = "wh-1",
                    now: datetime | None = None) -> dict[str, Any]:
    """Two units of SKU-RED for each order, a tote each."""
    now = now or datetime.now(UTC)
    issued = builders.picklist_issued([(shop_id, o) for o in order_ids], warehouse_id=warehouse_id,
                                      picklist_id=f"pl-{uuid.uuid4().hex[:8]}", units=2, at=now)
    return builders.document(issued, source="service:warehouse", at=now)


def to_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def order_accepted(order_id: str, lines: list[tuple[str, int]], *, shop_id: str = "acme",
                   at: tuple[float, float] = (52.52, 13.40)) -> dict[str, Any]:
    """What the orders service publishes for a valid order: `lines` are (sku, quantity), delivered at `at`."""
    now = datetime.now(UTC)
    placed = builders.order_placed(order_id, shop_id, at=now, items=lines, prices=dict.fromkeys(
        (sku for sku, _ in lines), "10.00"), address=GENT.model_copy(update={"latitude": at[0], "longitude": at[1]}),
        customer=CUSTOMER, discount=Decimal("5.00"))
    return builders.document(builders.order_accepted(placed, at=now), source="service:orders", at=now)


def order_cancelled(order_id: str, *, shop_id: str = "acme") -> dict[str, Any]:
    now = datetime.now(UTC)
    return builders.document(builders.order_cancelled(order_id, shop_id, at=now), source="service:orders", at=now)


def scan(event_type: str, warehouse_id: str, **payload: Any) -> dict[str, Any]:
    """A warehouse.scans event from a staff device, through its payload model; the *_at timestamp is filled in, and
    a scan of an order's units is for shop acme's order unless `shop_id` says otherwise."""
    now = datetime.now(UTC)
    if "order_id" in payload:
        payload = {"shop_id": "acme", **payload}
    stamp = {"stock.received": "received_at", "stock.counted": "counted_at", "pick.confirmed": "picked_at",
             "pick.short": "reported_at", "parcel.packed": "packed_at", "return.received": "received_at",
             "return.inspected": "inspected_at"}[event_type]
    versions = TOPICS["warehouse.scans"][event_type]
    model = versions[current_version("warehouse.scans", event_type)]
    return builders.document(model.model_validate({"warehouse_id": warehouse_id, stamp: now, **payload}),
                             source=f"device:{warehouse_id}", at=now)
