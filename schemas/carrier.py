"""Scans from drivers and third-party carriers on `carrier.scans`, keyed by tracking number."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import GeoPoint, Identifier, Payload, UtcDatetime


class _Scan(Payload):
    tracking_number: str = Field(min_length=8, max_length=64)
    scanned_at: UtcDatetime
    location: GeoPoint | None = None
    driver_id: Identifier | None = None


class ShipmentPickedUp(_Scan):
    EVENT_TYPE = "shipment.picked_up"


class ShipmentOutForDelivery(_Scan):
    EVENT_TYPE = "shipment.out_for_delivery"


class ShipmentDelivered(_Scan):
    EVENT_TYPE = "shipment.delivered"


class ShipmentDeliveryFailed(_Scan):
    EVENT_TYPE = "shipment.delivery_failed"
    reason: Literal["no_one_home", "address_problem", "refused", "other"]


class ShipmentReturnedToSender(_Scan):
    """The carrier gave up after failed attempts and brought the parcel back to the warehouse."""

    EVENT_TYPE = "shipment.returned_to_sender"
