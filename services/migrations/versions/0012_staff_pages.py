"""Warehouse staff pages: device keys per warehouse (hashes only, `fulfil device-key`), the scans staff tapped on
the pages (one per form, whatever the taps), and SKU descriptions for the picker's screen

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("warehouse_id", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_device_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_device_keys_key_hash")),
        schema="warehouse",
    )
    op.create_table(
        "staff_scans",
        sa.Column("scan_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("warehouse_id", sa.Text(), nullable=False),
        sa.Column("device", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("picklist_id", sa.Text(), nullable=True),
        sa.Column("shipment_id", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_staff_scans")),
        sa.UniqueConstraint("event_id", name=op.f("uq_staff_scans_event_id")),
        schema="warehouse",
    )
    op.create_index("ix_warehouse_staff_scans_shipment", "staff_scans", ["shipment_id"], schema="warehouse")
    op.add_column("stock", sa.Column("description", sa.Text(), nullable=True), schema="warehouse")


def downgrade() -> None:
    op.drop_column("stock", "description", schema="warehouse")
    op.drop_table("staff_scans", schema="warehouse")
    op.drop_table("device_keys", schema="warehouse")
