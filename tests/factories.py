"""Builders for events the tests send, as shops and warehouse devices would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

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


def envelope(event_type: str, payload: dict[str, Any], *, correlation_id: str, source: str = "shop:acme",
             event_id: uuid.UUID | None = None, occurred_at: datetime | None = None) -> dict[str, Any]:
    return {"event_id": str(event_id or uuid.uuid4()), "event_type": event_type, "schema_version": 1,
            "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(), "source": source, "correlation_id": correlation_id,
            "causation_id": None, "payload": payload}


def order_placed(order_id: str = "o-1", *, event_id: uuid.UUID | None = None, now: datetime | None = None,
                 **overrides: Any) -> dict[str, Any]:
    return envelope("order.placed", order_payload(order_id, now=now, **overrides), correlation_id=order_id,
                    event_id=event_id, occurred_at=now)


def cancellation(order_id: str, *, shop_id: str = "acme", now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return envelope("order.cancelled", {"order_id": order_id, "shop_id": shop_id, "requested_at": now.isoformat(),
                                        "reason": "customer changed their mind"},
                    correlation_id=order_id, source=f"shop:{shop_id}", occurred_at=now)


def picklist_issued(order_ids: list[str], *, warehouse_id: str = "wh-1", now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    payload = {
        "picklist_id": f"pl-{uuid.uuid4().hex[:8]}", "warehouse_id": warehouse_id, "wave_id": "w-1",
        "issued_at": now.isoformat(), "order_ids": order_ids,
        "lines": [{"sequence": 1, "zone": "A", "aisle": 1, "bay": 1, "level": 1, "bin": "A-01-01-1",
                   "sku": "SKU-RED", "quantity": 2,
                   "totes": [{"order_id": order_ids[0], "tote": "T1", "quantity": 2}]}],
    }
    return envelope("picklist.issued", payload, correlation_id=order_ids[0], source="service:warehouse",
                    occurred_at=now)


def to_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()
