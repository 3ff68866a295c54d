"""Routing's schema: depots and their vans (from the fleet file), each order's delivery method, the shipments
waiting for or on a route, and the dispatch waves with the latest plan of each."""

from __future__ import annotations

from sqlalchemy import ARRAY, Column, DateTime, Float, Index, Integer, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from services.common.db import service_metadata
from services.common.messaging import Messaging

metadata = service_metadata("routing")
messaging = Messaging(metadata)

depots = Table(
    "depots", metadata,
    Column("depot_id", Text, primary_key=True, doc="A warehouse id"),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("time_zone", Text, nullable=False),
    Column("service_radius_km", Float, nullable=False),
    Column("cutoffs", ARRAY(Text), nullable=False, doc="Local HH:MM times a wave closes"),
    Column("last_wave_at", DateTime(timezone=True)),
)

vehicles = Table(
    "vehicles", metadata,
    Column("vehicle_id", Text, primary_key=True),
    Column("depot_id", Text, nullable=False, index=True),
    Column("capacity_kg", Float, nullable=False),
    Column("capacity_m3", Float, nullable=False),
    Column("shift_start", Text, nullable=False, doc="Local HH:MM"),
    Column("shift_end", Text, nullable=False),
    Column("break_start", Text, doc="Earliest local HH:MM the break may start"),
    Column("break_end", Text, doc="Latest local HH:MM the break may start"),
    Column("break_minutes", Integer),
    Column("cost_per_km", Float, nullable=False),
    Column("fixed_cost", Float, nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("order_id", Text, primary_key=True),
    Column("delivery_method", Text, nullable=False),
    Column("collect_at", Text),
)

shipments = Table(
    "shipments", metadata,
    Column("shipment_id", Text, primary_key=True),
    Column("shop_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("tracking_number", Text, nullable=False),
    Column("depot_id", Text, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("window_end", DateTime(timezone=True), nullable=False),
    Column("weight_kg", Float, nullable=False),
    Column("volume_m3", Float, nullable=False),
    Column("status", Text, nullable=False,
           doc="waiting, planned, out_for_delivery, delivered, failed, collect, carrier"),
    Column("priority", Integer, nullable=False, doc="Waves this shipment was carried over"),
    Column("wave_id", Text),
    Column("vehicle_id", Text),
    Column("sequence", Integer),
    Column("packed_at", DateTime(timezone=True), nullable=False),
    Index("ix_routing_shipments_waiting", "depot_id", "status"),
    Index("ix_routing_shipments_tracking_number", "tracking_number", unique=True),
)

waves = Table(
    "waves", metadata,
    Column("wave_id", Text, primary_key=True),
    Column("depot_id", Text, nullable=False, index=True),
    Column("plan_id", Text, nullable=False, doc="The latest plan; a re-plan replaces it"),
    Column("closed_at", DateTime(timezone=True), nullable=False),
    Column("planned_at", DateTime(timezone=True), nullable=False),
    Column("service_date", Text, nullable=False),
    Column("summary", JSONB, nullable=False, doc="Stops, dropped, vehicles, distance, solver status and time"),
)
