"""initial schemas: orders, inbox and outbox

Revision ID: 0001
Revises: 
"""

from alembic import op

from services.migrations.messaging_history import create_inbox_and_outbox, drop_inbox_and_outbox
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


SCHEMAS = ("orders", "warehouse", "routing", "tracking", "returns")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    create_inbox_and_outbox('orders', sent_at=True)
    op.create_table('orders',
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('shop_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('placed_event_id', sa.Uuid(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('rejection_reasons', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_orders')),
    schema='orders'
    )
    op.create_index('ix_orders_orders_shop_status', 'orders', ['shop_id', 'status'], unique=False, schema='orders')
    op.create_table('order_transitions',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('order_id', sa.Text(), nullable=False),
    sa.Column('from_status', sa.Text(), nullable=True),
    sa.Column('to_status', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.orders.order_id'], name=op.f('fk_order_transitions_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_transitions')),
    schema='orders'
    )
    op.create_index(op.f('ix_orders_order_transitions_order_id'), 'order_transitions', ['order_id'], unique=False, schema='orders')


def downgrade() -> None:
    op.drop_index(op.f('ix_orders_order_transitions_order_id'), table_name='order_transitions', schema='orders')
    op.drop_table('order_transitions', schema='orders')
    op.drop_index('ix_orders_orders_shop_status', table_name='orders', schema='orders')
    op.drop_table('orders', schema='orders')
    drop_inbox_and_outbox('orders', sent_at=True)
    for schema in SCHEMAS:
        op.execute(f'DROP SCHEMA IF EXISTS "{schema}"')
