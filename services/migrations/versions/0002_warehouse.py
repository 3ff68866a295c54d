"""warehouse: stock, orders, shipments, backorders, pick lists

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from services.migrations.messaging_history import create_inbox_and_outbox, drop_inbox_and_outbox
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("wave_numbers", schema="warehouse")))
    create_inbox_and_outbox('warehouse', sent_at=True)
    op.create_table('orders',
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('shop_id', sa.Text(), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('delivery', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_orders')),
    schema='warehouse'
    )
    op.create_table('picklists',
    sa.Column('picklist_id', sa.Text(), nullable=False),
    sa.Column('warehouse_id', sa.Text(), nullable=False),
    sa.Column('wave_id', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('picklist_id', name=op.f('pk_picklists')),
    schema='warehouse'
    )
    op.create_index('ix_warehouse_picklists_warehouse', 'picklists', ['warehouse_id', 'issued_at'], unique=False, schema='warehouse')
    op.create_table('shop_policies',
    sa.Column('shop_id', sa.Text(), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.CheckConstraint("policy IN ('ship_available', 'ship_complete')", name=op.f('ck_shop_policies_known_policy')),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_shop_policies')),
    schema='warehouse'
    )
    op.create_table('stock_ledger',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('warehouse_id', sa.Text(), nullable=False),
    sa.Column('sku', sa.Text(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_ledger')),
    schema='warehouse'
    )
    op.create_index('ix_warehouse_stock_ledger_item', 'stock_ledger', ['warehouse_id', 'sku'], unique=False, schema='warehouse')
    op.create_table('warehouses',
    sa.Column('warehouse_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('priority', sa.Integer(), server_default=sa.text('100'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.PrimaryKeyConstraint('warehouse_id', name=op.f('pk_warehouses')),
    schema='warehouse'
    )
    op.create_table('backorders',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('line_id', sa.Text(), nullable=False),
    sa.Column('sku', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_backorders_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['warehouse.orders.order_id'], name=op.f('fk_backorders_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backorders')),
    schema='warehouse'
    )
    op.create_index('ix_warehouse_backorders_order', 'backorders', ['order_id', 'line_id'], unique=True, schema='warehouse')
    op.create_index('ix_warehouse_backorders_sku', 'backorders', ['sku', 'id'], unique=False, schema='warehouse')
    op.create_table('bins',
    sa.Column('warehouse_id', sa.Text(), nullable=False),
    sa.Column('bin_id', sa.Text(), nullable=False),
    sa.Column('zone', sa.Text(), nullable=False),
    sa.Column('aisle', sa.Integer(), nullable=False),
    sa.Column('bay', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.warehouses.warehouse_id'], name=op.f('fk_bins_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('warehouse_id', 'bin_id', name=op.f('pk_bins')),
    schema='warehouse'
    )
    op.create_table('shipments',
    sa.Column('shipment_id', sa.Text(), nullable=False),
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('warehouse_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('picklist_id', sa.Text(), nullable=True),
    sa.Column('tote', sa.Text(), nullable=True),
    sa.Column('parcel_id', sa.Text(), nullable=True),
    sa.Column('tracking_number', sa.Text(), nullable=True),
    sa.Column('weight_kg', sa.Numeric(precision=8, scale=3), nullable=True),
    sa.Column('volume_m3', sa.Numeric(precision=8, scale=4), nullable=True),
    sa.Column('packed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['warehouse.orders.order_id'], name=op.f('fk_shipments_order_id_orders')),
    sa.PrimaryKeyConstraint('shipment_id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('tracking_number', name=op.f('uq_shipments_tracking_number')),
    schema='warehouse'
    )
    op.create_index(op.f('ix_warehouse_shipments_order_id'), 'shipments', ['order_id'], unique=False, schema='warehouse')
    op.create_index('ix_warehouse_shipments_picklist', 'shipments', ['picklist_id'], unique=False, schema='warehouse')
    op.create_index('ix_warehouse_shipments_waiting', 'shipments', ['warehouse_id', 'reserved_at'], unique=False, schema='warehouse', postgresql_where=sa.text("status = 'reserved'"))
    op.create_table('shipment_lines',
    sa.Column('shipment_id', sa.Text(), nullable=False),
    sa.Column('line_id', sa.Text(), nullable=False),
    sa.Column('sku', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('picked', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.CheckConstraint('picked >= 0 AND picked <= quantity', name=op.f('ck_shipment_lines_picked_within_quantity')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_shipment_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['shipment_id'], ['warehouse.shipments.shipment_id'], name=op.f('fk_shipment_lines_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('shipment_id', 'line_id', name=op.f('pk_shipment_lines')),
    schema='warehouse'
    )
    op.create_table('stock',
    sa.Column('warehouse_id', sa.Text(), nullable=False),
    sa.Column('sku', sa.Text(), nullable=False),
    sa.Column('bin_id', sa.Text(), nullable=False),
    sa.Column('on_hand', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reserved', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reorder_point', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('low_alerted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('on_hand >= reserved', name=op.f('ck_stock_never_oversold')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_stock_reserved_not_negative')),
    sa.ForeignKeyConstraint(['warehouse_id', 'bin_id'], ['warehouse.bins.warehouse_id', 'warehouse.bins.bin_id'], name=op.f('fk_stock_warehouse_id_bins')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouse.warehouses.warehouse_id'], name=op.f('fk_stock_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('warehouse_id', 'sku', name=op.f('pk_stock')),
    schema='warehouse'
    )
    op.create_index('ix_warehouse_stock_sku', 'stock', ['sku'], unique=False, schema='warehouse')


def downgrade() -> None:
    op.execute(sa.schema.DropSequence(sa.Sequence("wave_numbers", schema="warehouse")))
    op.drop_index('ix_warehouse_stock_sku', table_name='stock', schema='warehouse')
    op.drop_table('stock', schema='warehouse')
    op.drop_table('shipment_lines', schema='warehouse')
    op.drop_index('ix_warehouse_shipments_waiting', table_name='shipments', schema='warehouse', postgresql_where=sa.text("status = 'reserved'"))
    op.drop_index('ix_warehouse_shipments_picklist', table_name='shipments', schema='warehouse')
    op.drop_index(op.f('ix_warehouse_shipments_order_id'), table_name='shipments', schema='warehouse')
    op.drop_table('shipments', schema='warehouse')
    op.drop_table('bins', schema='warehouse')
    op.drop_index('ix_warehouse_backorders_sku', table_name='backorders', schema='warehouse')
    op.drop_index('ix_warehouse_backorders_order', table_name='backorders', schema='warehouse')
    op.drop_table('backorders', schema='warehouse')
    op.drop_table('warehouses', schema='warehouse')
    op.drop_index('ix_warehouse_stock_ledger_item', table_name='stock_ledger', schema='warehouse')
    op.drop_table('stock_ledger', schema='warehouse')
    op.drop_table('shop_policies', schema='warehouse')
    op.drop_index('ix_warehouse_picklists_warehouse', table_name='picklists', schema='warehouse')
    op.drop_table('picklists', schema='warehouse')
    op.drop_table('orders', schema='warehouse')
    drop_inbox_and_outbox('warehouse', sent_at=True)
