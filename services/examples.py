"""Events a newcomer can send as they are, on any day: dated now, with SKUs and places of the sample layout
(deploy/sample/warehouses.yaml). `fulfil example order` prints one; the README shows its shape."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from schemas.registry import current_version, order_key


def order_placed(order_id: str, shop_id: str, now: datetime) -> dict[str, Any]:
    """Two mugs for a customer in Berlin (Berlin North has them), delivered tomorrow between 10:00 and 12:00 UTC."""
    start = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    at = now.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "event_id": str(uuid.uuid4()), "event_type": "order.placed", "schema_version": current_version("shop.orders", "order.placed"), "occurred_at": at,
        "source": f"shop:{shop_id}", "correlation_id": order_key(shop_id, order_id), "causation_id": None,
        "payload": {
            "order_id": order_id, "shop_id": shop_id, "placed_at": at, "currency": "EUR",
            "customer": {"name": "Ann Example"},
            "delivery_address": {"line1": "Unter den Linden 1", "city": "Berlin", "postcode": "10117",
                                 "country": "DE", "latitude": 52.5170, "longitude": 13.3889},
            "delivery_window": {"start": start.isoformat().replace("+00:00", "Z"),
                                "end": (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z")},
            "lines": [{"line_id": "1", "sku": "SKU-MUG", "quantity": 2, "unit_price": "9.99"}],
            "discount_total": "0", "shipping_total": "4.95", "total": "24.93"},
    }
