"""Tracking events on `tracking.events`: one status per shipment."""

from __future__ import annotations

from schemas.base import Identifier, Payload, TimeWindow, UtcDatetime


class ShipmentStatusChanged(Payload):
    EVENT_TYPE = "shipment.status_changed"
    SCHEMA_VERSION = 2
    CORRELATION = ("shop_id", "order_id")
    tracking_number: str
    shipment_id: Identifier
    shop_id: Identifier
    order_id: Identifier
    status: str
    previous_status: str | None
    changed_at: UtcDatetime
    eta_window: TimeWindow | None = None
    reason: str | None = None
