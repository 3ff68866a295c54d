"""Builders for events the tests send, as shops and warehouse devices would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.registry import PUBLIC_TOPICS, TOPICS, current_version, order_key

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def order_payload(order_id: str = "o-1", *, shop_id: str = "acme", now: datetime | None = None,
                  lines: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid order: two lines, delivery tomorrow 10:00-12:00, totals that add up. `now` defaults to
    the real clock, since the orders service checks windows against it."""
    now = now or datetime.now(UTC)
    lines = lines if lines is not None else [
        {"line_id": "1", "sku": "SKU-RED", "quantity": 2, "unit_price": "9.99"},
        {"line_id": "2", "sku": "SKU-BLUE", "quantity": 1, "unit_price": "25.00"},
    ]
    subtotal = sum(Decimal(str(line["unit_price"])) * line["quantity"] for line in lines)
    start = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    payload: dict[str, Any] = {
        "order_id": order_id, "shop_id": shop_id, "placed_at": now.isoformat(), "currency": "EUR",
        "customer": {"name": "Ann Example", "email": "ann@example.com", "phone": "+32 470 00 00 00"},
        "delivery_address": {"line1": "Veldstraat 1", "city": "Gent", "postcode": "9000", "country": "BE",
                             "latitude": 51.0543, "longitude": 3.7174},
        "delivery_window": {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()},
        "lines": lines, "discount_total": "5.00", "shipping_total": "4.95",
        "total": str(subtotal - Decimal("5.00") + Decimal("4.95")),
    }
    payload.update(overrides)
    return payload


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
            "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(), "source": source, "correlation_id": correlation_id,
            "causation_id": None, "payload": payload}


def order_placed(order_id: str = "o-1", *, event_id: uuid.UUID | None = None, now: datetime | None = None,
                 **overrides: Any) -> dict[str, Any]:
    payload = order_payload(order_id, now=now, **overrides)
    return envelope("order.placed", payload, correlation_id=order_key(payload["shop_id"], order_id), event_id=event_id,
                    occurred_at=now,
                    source=f"shop:{payload['shop_id']}")


def cancellation(order_id: str, *, shop_id: str = "acme", now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return envelope("order.cancelled", {"order_id": order_id, "shop_id": shop_id, "requested_at": now.isoformat(),
                                        "reason": "customer changed their mind"},
                    correlation_id=order_key(shop_id, order_id), source=f"shop:{shop_id}", occurred_at=now)


def return_requested(order_id: str, return_id: str, *, shop_id: str = "acme") -> dict[str, Any]:
    """A shop asks to take back one unopened unit of line 1."""
    return envelope("return.requested", {
        "return_id": return_id, "order_id": order_id, "shop_id": shop_id, "requested_at": datetime.now(UTC).isoformat(),
        "lines": [{"line_id": "1", "sku": "SKU-RED", "quantity": 1, "reason": "changed_mind", "opened": False}]},
        correlation_id=order_key(shop_id, order_id), source=f"shop:{shop_id}")


def picklist_issued(order_ids: list[str], *, shop_id: str = "acme", warehouse_id: str = "wh-1",
                    now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    payload = {
        "picklist_id": f"pl-{uuid.uuid4().hex[:8]}", "warehouse_id": warehouse_id, "wave_id": "w-1",
        "issued_at": now.isoformat(), "orders": [{"shop_id": shop_id, "order_id": o} for o in order_ids],
        "lines": [{"sequence": 1, "zone": "A", "aisle": 1, "bay": 1, "level": 1, "bin": "A-01-01-1",
                   "sku": "SKU-RED", "quantity": 2,
                   "totes": [{"shop_id": shop_id, "order_id": order_ids[0], "tote": "T1", "quantity": 2}]}],
    }
    return envelope("picklist.issued", payload, correlation_id=order_ids[0], source="service:warehouse",
                    occurred_at=now)


def to_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def order_accepted(order_id: str, lines: list[tuple[str, int]], *, shop_id: str = "acme",
                   at: tuple[float, float] = (52.52, 13.40)) -> dict[str, Any]:
    """What the orders service publishes for a valid order: `lines` are (sku, quantity), delivered at `at`."""
    now = datetime.now(UTC)
    placed = order_payload(order_id, shop_id=shop_id, now=now, lines=[
        {"line_id": str(i), "sku": sku, "quantity": qty, "unit_price": "10.00"} for i, (sku, qty) in enumerate(lines, 1)])
    placed["delivery_address"].update(latitude=at[0], longitude=at[1])
    return envelope("order.accepted", {**placed, "accepted_at": now.isoformat()},
                    correlation_id=order_key(shop_id, order_id),
                    source="service:orders")


def order_cancelled(order_id: str, *, shop_id: str = "acme") -> dict[str, Any]:
    now = datetime.now(UTC)
    return envelope("order.cancelled", {"order_id": order_id, "shop_id": shop_id, "cancelled_at": now.isoformat(),
                                        "previous_status": "allocated", "reason": "changed mind"},
                    correlation_id=order_key(shop_id, order_id), source="service:orders")


def scan(event_type: str, warehouse_id: str, **payload: Any) -> dict[str, Any]:
    """A warehouse.scans event from a staff device; the *_at timestamp is filled in, and a scan of an order's
    units is for shop acme's order unless `shop_id` says otherwise."""
    now = datetime.now(UTC).isoformat()
    if "order_id" in payload:
        payload = {"shop_id": "acme", **payload}
    stamp = {"stock.received": "received_at", "stock.counted": "counted_at", "pick.confirmed": "picked_at",
             "pick.short": "reported_at", "parcel.packed": "packed_at", "return.received": "received_at",
             "return.inspected": "inspected_at"}[event_type]
    return envelope(event_type, {"warehouse_id": warehouse_id, stamp: now, **payload},
                    correlation_id=str(payload.get("order_id", warehouse_id)), source=f"device:{warehouse_id}")
