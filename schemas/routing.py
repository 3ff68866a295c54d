"""Routing events on `routing.events`: delivery plans per depot and the stops they could not serve."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from schemas.base import Identifier, Model, Payload, TimeWindow, UtcDatetime


class PlannedStop(Model):
    sequence: int = Field(ge=1)
    shipment_id: Identifier
    tracking_number: str
    shop_id: Identifier
    order_id: Identifier
    arrival: UtcDatetime
    eta_window: TimeWindow = Field(description="The window promised to the customer")
    load_weight_kg: Decimal = Field(description="Load still on board after this stop")
    load_volume_m3: Decimal


class PlannedRoute(Model):
    vehicle_id: Identifier
    departure: UtcDatetime
    return_at: UtcDatetime
    distance_km: Decimal
    duration_s: int
    stops: list[PlannedStop]
    break_start: UtcDatetime | None = Field(None, description="When the driver's break starts, if one is taken")
    break_after_stops: int | None = Field(None, ge=0, description="How many of the stops come before the break")


class RoutePlanned(Payload):
    EVENT_TYPE = "route.planned"
    SCHEMA_VERSION = 2
    CORRELATION = ("wave_id",)
    plan_id: Identifier
    depot_id: Identifier
    wave_id: Identifier
    planned_at: UtcDatetime
    routes: list[PlannedRoute]


class StopUnassigned(Payload):
    EVENT_TYPE = "stop.unassigned"
    SCHEMA_VERSION = 2
    CORRELATION = ("shipment_id",)
    plan_id: Identifier
    depot_id: Identifier
    shipment_id: Identifier
    tracking_number: str
    shop_id: Identifier
    order_id: Identifier
    code: Literal["window_unreachable", "no_vehicle_capacity", "shift_too_short", "outside_service_area", "other"]
    reason: str
    carried_to_next_wave: bool


class DeliveryMethodChosen(Payload):
    """How a shipment reaches its customer when it is not on one of our routes: collected at a warehouse or
    pickup point (the parcel is ready there), or handed to a third-party carrier (tracked by its scans)."""

    EVENT_TYPE = "delivery.method_chosen"
    SCHEMA_VERSION = 2
    CORRELATION = ("shipment_id",)
    depot_id: Identifier
    shipment_id: Identifier
    tracking_number: str
    shop_id: Identifier
    order_id: Identifier
    method: Literal["own_fleet", "collect", "carrier"]
    collect_at: Identifier | None = None
    reason: str = Field(description="Why this method, in a sentence a dispatcher can read")
    chosen_at: UtcDatetime
