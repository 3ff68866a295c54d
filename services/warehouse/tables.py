"""Tables of the `warehouse` PostgreSQL schema.

Stock invariants are also constraints, so no bug can store an oversold row: 0 <= reserved <= on_hand.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    Sequence,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.common.access_keys import AccessKeys
from services.common.db import service_metadata
from services.common.messaging import Messaging

metadata = service_metadata("warehouse")
messaging = Messaging(metadata)
wave_numbers = Sequence("wave_numbers", metadata=metadata)

warehouses = Table(
    "warehouses", metadata,
    Column("warehouse_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("priority", Integer, nullable=False, server_default=text("100"), doc="Lower ships first on a tie"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

bins = Table(
    "bins", metadata,
    Column("warehouse_id", Text, ForeignKey("warehouse.warehouses.warehouse_id"), primary_key=True),
    Column("bin_id", Text, primary_key=True),
    Column("zone", Text, nullable=False),
    Column("aisle", Integer, nullable=False),
    Column("bay", Integer, nullable=False),
    Column("level", Integer, nullable=False),
)

stock = Table(
    "stock", metadata,
    Column("warehouse_id", Text, ForeignKey("warehouse.warehouses.warehouse_id"), primary_key=True),
    Column("sku", Text, primary_key=True),
    Column("bin_id", Text, nullable=False),
    Column("on_hand", Integer, nullable=False, server_default=text("0")),
    Column("reserved", Integer, nullable=False, server_default=text("0")),
    Column("reorder_point", Integer, nullable=False, server_default=text("0")),
    Column("description", Text, doc="What a picker reads beside the SKU (from the layout file)"),
    Column("low_alerted", Boolean, nullable=False, server_default=text("false")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("reserved >= 0", name="reserved_not_negative"),
    CheckConstraint("on_hand >= reserved", name="never_oversold"),
    ForeignKeyConstraint(["warehouse_id", "bin_id"], ["warehouse.bins.warehouse_id", "warehouse.bins.bin_id"]),
    Index("ix_warehouse_stock_sku", "sku"),
)

ledger = Table(
    "stock_ledger", metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("warehouse_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("delta", Integer, nullable=False, doc="Change of on_hand; on_hand is the sum of a SKU's deltas"),
    Column("reason", Text, nullable=False, doc="opening, received, returned, counted, short_pick, shipped"),
    Column("reference", Text),
    Column("event_id", Uuid),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_warehouse_stock_ledger_item", "warehouse_id", "sku"),
)

shop_policies = Table(
    "shop_policies", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("policy", Text, nullable=False),
    CheckConstraint("policy IN ('ship_available', 'ship_complete')", name="known_policy"),
)

orders = Table(
    "orders", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("order_id", Text, primary_key=True),
    Column("policy", Text, nullable=False),
    Column("status", Text, nullable=False, doc="open or cancelled"),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("lines", JSONB, nullable=False, doc="The ordered lines [{line_id, sku, quantity}], for audits"),
    Column("delivery", JSONB, nullable=False, doc="delivery_address and delivery_window, for shipment.packed"),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)

backorders = Table(
    "backorders", metadata,
    Column("id", BigInteger, Identity(), primary_key=True, doc="Age: lower is older, filled first"),
    Column("shop_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("line_id", Text, nullable=False),
    Column("sku", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_warehouse_backorders_sku", "sku", "id"),
    Index("ix_warehouse_backorders_order", "shop_id", "order_id", "line_id", unique=True),
    ForeignKeyConstraint(["shop_id", "order_id"], ["warehouse.orders.shop_id", "warehouse.orders.order_id"]),
)

shipments = Table(
    "shipments", metadata,
    Column("shipment_id", Text, primary_key=True),
    Column("shop_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("warehouse_id", Text, nullable=False),
    Column("status", Text, nullable=False, doc="reserved, picking, picked, packed, cancelled"),
    Column("rule", Text, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("reserved_at", DateTime(timezone=True), nullable=False),
    Column("picklist_id", Text),
    Column("tote", Text),
    Column("parcel_id", Text),
    Column("tracking_number", Text, unique=True),
    Column("weight_kg", Numeric(8, 3)),
    Column("volume_m3", Numeric(8, 4)),
    Column("packed_at", DateTime(timezone=True)),
    Index("ix_warehouse_shipments_waiting", "warehouse_id", "reserved_at", postgresql_where=text("status = 'reserved'")),
    Index("ix_warehouse_shipments_picklist", "picklist_id"),
    Index("ix_warehouse_shipments_order", "shop_id", "order_id"),
    ForeignKeyConstraint(["shop_id", "order_id"], ["warehouse.orders.shop_id", "warehouse.orders.order_id"]),
)

shipment_lines = Table(
    "shipment_lines", metadata,
    Column("shipment_id", Text, ForeignKey("warehouse.shipments.shipment_id"), primary_key=True),
    Column("line_id", Text, primary_key=True),
    Column("sku", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("picked", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("picked >= 0 AND picked <= quantity", name="picked_within_quantity"),
)

picklists = Table(
    "picklists", metadata,
    Column("picklist_id", Text, primary_key=True),
    Column("warehouse_id", Text, nullable=False),
    Column("wave_id", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("document", JSONB, nullable=False, doc="The picklist.issued payload"),
    Index("ix_warehouse_picklists_warehouse", "warehouse_id", "issued_at"),
)


device_keys = AccessKeys(metadata, "device_keys", "warehouse_id", "dk")
"""Keys that open one warehouse's staff pages to a handheld or a packing bench (`fulfil device-key`)."""

staff_scans = Table(
    "staff_scans", metadata,
    Column("scan_id", Uuid, primary_key=True, doc="The form's own id: a form sent twice is one scan"),
    Column("event_id", Uuid, nullable=False, unique=True, doc="The scan's event: processed once it is in the inbox"),
    Column("warehouse_id", Text, nullable=False),
    Column("device", Text, nullable=False, doc="The key id of the device that sent it"),
    Column("kind", Text, nullable=False, doc="pick.confirmed, pick.short or parcel.packed"),
    Column("picklist_id", Text),
    Column("shipment_id", Text, nullable=False),
    Column("sku", Text),
    Column("quantity", Integer, nullable=False, doc="Units picked, or found by a short pick; a parcel's units"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_warehouse_staff_scans_shipment", "shipment_id"),
)
"""Every tap on a staff page that became a scan: a form sent twice is one scan, and a scan not yet processed
counts as done when the page is drawn again."""
