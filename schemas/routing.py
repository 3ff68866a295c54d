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


class RoutePlanned(Payload):
    EVENT_TYPE = "route.planned"
    plan_id: Identifier
    depot_id: Identifier
    wave_id: Identifier
    planned_at: UtcDatetime
    routes: list[PlannedRoute]


class StopUnassigned(Payload):
    EVENT_TYPE = "stop.unassigned"
    plan_id: Identifier
    depot_id: Identifier
    shipment_id: Identifier
    tracking_number: str
    order_id: Identifier
    code: Literal["window_unreachable", "no_vehicle_capacity", "shift_too_short", "outside_service_area", "other"]
    reason: str
    carried_to_next_wave: bool
