"""tracking: shipment status, checkpoints, the shops' orders, scans waiting for their parcel; inbox and outbox

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from services.migrations.messaging_history import create_inbox_and_outbox, drop_inbox_and_outbox
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('early_scans',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tracking_number', sa.Text(), nullable=False),
    sa.Column('event', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_early_scans')),
    schema='tracking'
    )
    op.create_index(op.f('ix_tracking_early_scans_tracking_number'), 'early_scans', ['tracking_number'], unique=False, schema='tracking')
    create_inbox_and_outbox('tracking', sent_at=False)
    op.create_table('orders',
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('shop_id', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('waiting', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_orders')),
    schema='tracking'
    )
    op.create_table('shipments',
    sa.Column('shipment_id', sa.Text(), nullable=False),
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('warehouse_id', sa.Text(), nullable=True),
    sa.Column('tracking_number', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('eta_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('eta_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promised_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promised_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('plan_id', sa.Text(), nullable=True),
    sa.Column('vehicle_id', sa.Text(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('planned_arrival', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('shipment_id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('tracking_number', name=op.f('uq_shipments_tracking_number')),
    schema='tracking'
    )
    op.create_index(op.f('ix_tracking_shipments_order_id'), 'shipments', ['order_id'], unique=False, schema='tracking')
    op.create_index('ix_tracking_shipments_route', 'shipments', ['plan_id', 'vehicle_id', 'sequence'], unique=False, schema='tracking')
    op.create_table('checkpoints',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('shipment_id', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('place', sa.Text(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('eta_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('eta_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source_event_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['shipment_id'], ['tracking.shipments.shipment_id'], name=op.f('fk_checkpoints_shipment_id_shipments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints')),
    schema='tracking'
    )
    op.create_index('ix_tracking_checkpoints_shipment', 'checkpoints', ['shipment_id', 'id'], unique=False, schema='tracking')


def downgrade() -> None:
    op.drop_index('ix_tracking_checkpoints_shipment', table_name='checkpoints', schema='tracking')
    op.drop_table('checkpoints', schema='tracking')
    op.drop_index('ix_tracking_shipments_route', table_name='shipments', schema='tracking')
    op.drop_index(op.f('ix_tracking_shipments_order_id'), table_name='shipments', schema='tracking')
    op.drop_table('shipments', schema='tracking')
    op.drop_table('orders', schema='tracking')
    drop_inbox_and_outbox('tracking', sent_at=False)
    op.drop_index(op.f('ix_tracking_early_scans_tracking_number'), table_name='early_scans', schema='tracking')
    op.drop_table('early_scans', schema='tracking')
