"""Scans from drivers and third-party carriers on `carrier.scans`, keyed by tracking number."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import GeoPoint, Identifier, Payload, UtcDatetime


class Scan(Payload):
    """What every carrier scan says: which parcel, when, and where when the device knows."""

    tracking_number: str = Field(min_length=8, max_length=64)
    scanned_at: UtcDatetime
    location: GeoPoint | None = None
    driver_id: Identifier | None = None


class ShipmentPickedUp(Scan):
    EVENT_TYPE = "shipment.picked_up"


class ShipmentOutForDelivery(Scan):
    EVENT_TYPE = "shipment.out_for_delivery"


class ShipmentDelivered(Scan):
    EVENT_TYPE = "shipment.delivered"


class ShipmentDeliveryFailed(Scan):
    EVENT_TYPE = "shipment.delivery_failed"
    reason: Literal["no_one_home", "address_problem", "refused", "other"]


class ShipmentReturnedToSender(Scan):
    """The carrier gave up after failed attempts and brought the parcel back to the warehouse."""

    EVENT_TYPE = "shipment.returned_to_sender"


AnyScan = ShipmentPickedUp | ShipmentOutForDelivery | ShipmentDelivered | ShipmentDeliveryFailed | ShipmentReturnedToSender
"""Every carrier scan: a handler typed for it handles them all."""
