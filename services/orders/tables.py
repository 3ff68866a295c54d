"""Tables of the `orders` PostgreSQL schema."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKeyConstraint, Identity, Index, Table, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB

from services.common.db import service_metadata
from services.common.messaging import Messaging
from services.common.signing_keys import Keyring

metadata = service_metadata("orders")
messaging = Messaging(metadata)
keyring = Keyring(metadata)

orders = Table(
    "orders", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("order_id", Text, primary_key=True, doc="The shop's own id: unique per shop only"),
    Column("status", Text, nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("placed_event_id", Uuid, nullable=False),
    Column("document", JSONB, nullable=False, doc="The order.placed payload as received"),
    Column("rejection_reasons", JSONB),
    Index("ix_orders_orders_shop_status", "shop_id", "status"),
)

transitions = Table(
    "order_transitions", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("shop_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(["shop_id", "order_id"], ["orders.orders.shop_id", "orders.orders.order_id"]),
    Index("ix_orders_order_transitions_order", "shop_id", "order_id"),
)
