"""Returns' schema: its copy of each order (what was paid, line by line), which units were delivered, the
shops' return policies, each return with its state, and the refunds paid (one per return, by constraint)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.common.db import service_metadata
from services.common.messaging import Messaging
from services.common.signing_keys import Keyring

metadata = service_metadata("returns")
messaging = Messaging(metadata)
keyring = Keyring(metadata)

orders = Table(
    "orders", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("order_id", Text, primary_key=True),
    Column("currency", Text, nullable=False),
    Column("lines", JSONB, nullable=False, doc="[{line_id, sku, quantity, unit_price}] as accepted"),
    Column("discount", Numeric(14, 4), nullable=False),
    Column("shipping", Numeric(14, 4), nullable=False),
    Column("status", Text, nullable=False, doc="accepted or cancelled"),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
)

shipments = Table(
    "shipments", metadata,
    Column("shipment_id", Text, primary_key=True),
    Column("shop_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("lines", JSONB, doc="{line_id: units} from stock.reserved; tracking.events may come first"),
    Column("delivered_at", DateTime(timezone=True)),
    Index("ix_returns_shipments_order", "shop_id", "order_id"),
)

policies = Table(
    "policies", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("window_days", Integer, doc="NULL: returns are accepted whenever"),
    Column("time_zone", Text, nullable=False),
    Column("final_sale_skus", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("restocking_fee_pct", Numeric(5, 2), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("window_days IS NULL OR window_days >= 0", name="window_not_negative"),
    CheckConstraint("restocking_fee_pct BETWEEN 0 AND 100", name="fee_is_a_percentage"),
)

returns = Table(
    "returns", metadata,
    Column("shop_id", Text, primary_key=True),
    Column("return_id", Text, primary_key=True, doc="The shop's own id: unique per shop only"),
    Column("rma", Text, unique=True, doc="Set when authorised"),
    Column("order_id", Text, nullable=False),
    Column("status", Text, nullable=False,
           doc="authorised, rejected, received, awaiting_processing, refunded"),
    Column("lines", JSONB, nullable=False, doc="The requested lines: [{line_id, sku, quantity, reason, opened}]"),
    Column("reasons", JSONB, nullable=False, server_default=text("'[]'::jsonb"), doc="Why it was rejected"),
    Column("received", JSONB, nullable=False, server_default=text("'{}'::jsonb"), doc="{line_id: units}"),
    Column("dispositions", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           doc="{line_id: {restock, write_off, needs_processing: units}}"),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False, server_default=text("1")),
    Index("ix_returns_returns_order", "shop_id", "order_id"),
)

refunds = Table(
    "refunds", metadata,
    Column("refund_id", Text, primary_key=True),
    Column("shop_id", Text, nullable=False),
    Column("return_id", Text, nullable=False),
    Column("order_id", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("shipping_cents", BigInteger, nullable=False),
    Column("fee_cents", BigInteger, nullable=False),
    Column("shipping_refunded", Boolean, nullable=False),
    Column("units", JSONB, nullable=False, doc="{line_id: units refunded}"),
    Column("lines", JSONB, nullable=False, doc="[{line_id, quantity, gross_cents, fee_cents}]"),
    Column("explanation", JSONB, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount_cents >= 0", name="refund_not_negative"),
    UniqueConstraint("shop_id", "return_id", name="uq_refunds_return"),
    Index("ix_returns_refunds_order", "shop_id", "order_id"),
)
