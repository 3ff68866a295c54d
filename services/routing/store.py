"""The routing service's named writes and reads for what its handlers learn: each order's delivery method, each
packed shipment waiting for a wave, and what drivers report. Waves (services/routing/waves.py) read and plan
these shipments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.orders import OrderAccepted
from schemas.warehouse import ShipmentPacked
from services.common.db import hold_open
from services.common.unit_of_work import UnitOfWork
from services.routing import tables


@dataclass(frozen=True, slots=True)
class DeliveryMethod:
    method: str
    """delivery or collect"""
    collect_at: str | None


class Store:
    def __init__(self, session: Session) -> None:
        self.session = session

    def save_order(self, order: OrderAccepted) -> None:
        self.session.execute(insert(tables.orders).values(
            shop_id=order.shop_id, order_id=order.order_id, delivery_method=order.delivery_method,
            collect_at=order.collect_at).on_conflict_do_nothing())

    def delivery_method(self, shop_id: str, order_id: str) -> DeliveryMethod | None:
        o = tables.orders
        row = self.session.execute(select(o.c.delivery_method, o.c.collect_at)
                              .where(o.c.shop_id == shop_id, o.c.order_id == order_id)).first()
        return DeliveryMethod(row.delivery_method, row.collect_at) if row else None

    def add_shipment(self, packed: ShipmentPacked, status: str) -> bool:
        """A packed shipment, waiting for a wave (or for collection); False when it was known already."""
        address = packed.delivery_address
        return self.session.execute(insert(tables.shipments).values(
            shipment_id=packed.shipment_id, shop_id=packed.shop_id, order_id=packed.order_id,
            tracking_number=packed.tracking_number, depot_id=packed.warehouse_id, latitude=address.latitude,
            longitude=address.longitude, window_start=packed.delivery_window.start, window_end=packed.delivery_window.end,
            weight_kg=float(packed.weight_kg), volume_m3=float(packed.volume_m3), status=status, priority=0,
            packed_at=packed.packed_at).on_conflict_do_nothing().returning(tables.shipments.c.shipment_id)
        ).first() is not None

    def driver_reported(self, tracking_number: str, status: str) -> None:
        """A stop on a route is out for delivery, delivered or failed: what a re-plan may still move."""
        s = tables.shipments
        self.session.execute(update(s).where(s.c.tracking_number == tracking_number,
                                        s.c.status.in_(("planned", "out_for_delivery"))).values(status=status))

    def lock_depot(self, depot_id: str) -> tuple[Depot, list[Van]]:
        """The depot, its row locked (one wave at a time per depot), and its vans; LookupError for an unknown one."""
        d, v = tables.depots, tables.vehicles
        depot = self.session.execute(select(d).where(d.c.depot_id == depot_id).with_for_update()).first()
        if depot is None:
            raise LookupError(f"no depot {depot_id!r}; load the fleet file first (fulfil fleet load)")
        vans = [Van.of(row) for row in self.session.execute(select(v).where(v.c.depot_id == depot_id).order_by(v.c.vehicle_id))]
        return Depot.of(depot), vans

    # -- waves -------------------------------------------------------------------------------------------------
    def depots_free_to_plan(self) -> list[Depot]:
        """Every depot no other worker is planning right now (SKIP LOCKED), locked."""
        d = tables.depots
        return [Depot.of(row) for row in self.session.execute(
            select(d).order_by(d.c.depot_id).with_for_update(skip_locked=True))]

    def wave_closed(self, depot_id: str, at: datetime) -> None:
        d = tables.depots
        self.session.execute(update(d).where(d.c.depot_id == depot_id).values(last_wave_at=at))

    def claim_waiting(self, depot_id: str, before: datetime) -> list[Shipment]:
        """The depot's shipments waiting for a wave whose window opens before `before`, locked (SKIP LOCKED)."""
        s = tables.shipments
        return [Shipment.of(row) for row in self.session.execute(
            select(s).where(s.c.depot_id == depot_id, s.c.status == "waiting", s.c.window_start < before)
            .order_by(s.c.shipment_id).with_for_update(skip_locked=True))]

    def wave(self, wave_id: str) -> ClosedWave | None:
        w = tables.waves
        row = self.session.execute(select(w).where(w.c.wave_id == wave_id)).first()
        return ClosedWave(row.wave_id, row.depot_id, row.plan_id, row.closed_at, row.service_date) if row else None

    def locked_on_wave(self, wave_id: str) -> list[Shipment]:
        """The wave's stops still planned or out for delivery, van by van in their order, locked."""
        s = tables.shipments
        return [Shipment.of(row) for row in self.session.execute(
            select(s).where(s.c.wave_id == wave_id, s.c.status.in_(("planned", "out_for_delivery")))
            .order_by(s.c.vehicle_id, s.c.sequence).with_for_update())]

    def hold_open(self, seconds: float) -> None:
        """The search runs between this transaction's reads and its writes."""
        hold_open(self.session, seconds)

    def set_status(self, shipment_id: str, status: str, **values: Any) -> None:
        """`status` and the route position (wave, van, sequence) or priority given in `values`."""
        s = tables.shipments
        self.session.execute(update(s).where(s.c.shipment_id == shipment_id).values(status=status, **values))

    def save_wave(self, wave_id: str, depot_id: str, closed_at: datetime, service_date: str, plan_id: str,
                  planned_at: datetime, summary: dict[str, Any]) -> None:
        """The wave and its latest plan (a re-plan overwrites the plan)."""
        values = {"plan_id": plan_id, "planned_at": planned_at, "summary": summary}
        self.session.execute(insert(tables.waves).values(wave_id=wave_id, depot_id=depot_id, closed_at=closed_at,
                                                         service_date=service_date, **values)
                             .on_conflict_do_update(index_elements=["wave_id"], set_=values))


@dataclass(frozen=True, slots=True)
class Depot:
    depot_id: str
    latitude: float
    longitude: float
    time_zone: str
    service_radius_km: float
    cutoffs: list[str]
    """Local HH:MM times a dispatch wave closes"""
    last_wave_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> Depot:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class Van:
    vehicle_id: str
    depot_id: str
    capacity_kg: float
    capacity_m3: float
    shift_start: str
    """Local HH:MM"""
    shift_end: str
    break_start: str | None
    break_end: str | None
    break_minutes: int | None
    cost_per_km: float
    fixed_cost: float

    @classmethod
    def of(cls, row: Row[Any]) -> Van:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class Shipment:
    """A packed shipment as routing plans it."""

    shipment_id: str
    shop_id: str
    order_id: str
    tracking_number: str
    depot_id: str
    latitude: float | None
    longitude: float | None
    window_start: datetime
    window_end: datetime
    weight_kg: float
    volume_m3: float
    status: str
    priority: int
    """Waves this shipment was carried over"""
    wave_id: str | None
    vehicle_id: str | None
    sequence: int | None
    packed_at: datetime

    @classmethod
    def of(cls, row: Row[Any]) -> Shipment:
        return cls(**row._mapping)


@dataclass(frozen=True, slots=True)
class ClosedWave:
    """A closed wave: where, when, and its latest plan."""

    wave_id: str
    depot_id: str
    plan_id: str
    closed_at: datetime
    service_date: str


Work = UnitOfWork[Store]
"""The routing service's unit of work: what its handlers and its wave job are given."""
