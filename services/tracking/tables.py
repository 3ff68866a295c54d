"""Tracking's schema: one row per shipment with its current status and ETA, the checkpoints that led there,
the shops' orders (for the order view), and scans that arrived before their shipment was known."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.common.access_keys import AccessKeys
from services.common.db import service_metadata
from services.common.messaging import Messaging

metadata = service_metadata("tracking")
messaging = Messaging(metadata)

orders = Table(
    "orders", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("order_id", Text, primary_key=True),
    Column("status", Text, nullable=False, doc="accepted or cancelled"),
    Column("waiting", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           doc="Backordered units still waiting for stock, by line id"),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

shipments = Table(
    "shipments", metadata,
    Column("shipment_id", Text, primary_key=True),
    Column("shop_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("warehouse_id", Text),
    Column("tracking_number", Text, unique=True),
    Column("status", Text, nullable=False),
    Column("status_at", DateTime(timezone=True), nullable=False, doc="When the current status happened"),
    Column("reason", Text, doc="Why a delivery failed"),
    Column("eta_start", DateTime(timezone=True)),
    Column("eta_end", DateTime(timezone=True)),
    Column("promised_start", DateTime(timezone=True), doc="The window the route plan promised"),
    Column("promised_end", DateTime(timezone=True)),
    Column("plan_id", Text),
    Column("vehicle_id", Text),
    Column("sequence", Integer),
    Column("planned_arrival", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, server_default=text("1"), doc="Bumped on every change: the ETag"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_tracking_shipments_route", "plan_id", "vehicle_id", "sequence"),
    Index("ix_tracking_shipments_order", "shop_id", "order_id"),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("shipment_id", Text, ForeignKey("tracking.shipments.shipment_id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("place", Text, doc="A place a customer may see: a warehouse or depot id; never an address"),
    Column("latitude", Float, doc="Where a driver scanned, for operators only: at a doorstep it is personal"),
    Column("longitude", Float),
    Column("reason", Text),
    Column("eta_start", DateTime(timezone=True)),
    Column("eta_end", DateTime(timezone=True)),
    Column("source_event_id", Uuid, nullable=False),
    Index("ix_tracking_checkpoints_shipment", "shipment_id", "id"),
)

early_scans = Table(
    "early_scans", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tracking_number", Text, nullable=False, index=True),
    Column("event", JSONB, nullable=False, doc="The whole scan event, applied once shipment.packed arrives"),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


shop_keys = AccessKeys(metadata, "shop_keys", "shop_id", "k")
"""Shops' API keys for their order view (`fulfil shop-key`)."""
