"""Order identity per shop: every table that names an order names it by (shop_id, order_id), and a return by
(shop_id, return_id), so two shops may use the same ids without touching each other

Revision ID: 0009
Revises: 0008

Rows written before this revision get their shop from orders.orders (order ids were unique across shops until
now, so the lookup is exact); a row whose order the orders service never knew gets the shop "?", which no
shop can be called.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNKNOWN_SHOP = "?"


def _add_shop(table: str) -> None:
    """Add shop_id to a table that names orders, filled from the order's owner."""
    op.execute(f"ALTER TABLE {table} ADD COLUMN shop_id text")
    op.execute(f"UPDATE {table} AS t SET shop_id = o.shop_id FROM orders.orders AS o WHERE o.order_id = t.order_id")
    op.execute(f"UPDATE {table} SET shop_id = '{UNKNOWN_SHOP}' WHERE shop_id IS NULL")
    op.execute(f"ALTER TABLE {table} ALTER COLUMN shop_id SET NOT NULL")


def _rekey_orders(schema: str) -> None:
    op.execute(f"ALTER TABLE {schema}.orders DROP CONSTRAINT pk_orders CASCADE")
    op.execute(f"ALTER TABLE {schema}.orders ADD CONSTRAINT pk_orders PRIMARY KEY (shop_id, order_id)")


def _picklists_name_shops() -> None:
    """Stored pick lists take the picklist.issued v2 shape: `orders` as (shop, order) pairs, a shop on each tote."""
    bind = op.get_bind()
    owners = {(row.picklist_id, row.order_id): row.shop_id for row in bind.execute(sa.text(
        "SELECT picklist_id, order_id, shop_id FROM warehouse.shipments WHERE picklist_id IS NOT NULL"))}
    for picklist_id, document in bind.execute(sa.text(
            "SELECT picklist_id, document FROM warehouse.picklists WHERE document ? 'order_ids'")).all():
        shop = {order_id: owners.get((picklist_id, order_id), UNKNOWN_SHOP) for order_id in document["order_ids"]}
        document["orders"] = [{"shop_id": shop[order_id], "order_id": order_id} for order_id in document.pop("order_ids")]
        for line in document["lines"]:
            for tote in line["totes"]:
                tote["shop_id"] = shop.get(tote["order_id"], UNKNOWN_SHOP)
        bind.execute(sa.text("UPDATE warehouse.picklists SET document = CAST(:document AS jsonb) "
                             "WHERE picklist_id = :picklist_id"),
                     {"document": json.dumps(document), "picklist_id": picklist_id})


def upgrade() -> None:
    # orders: the owner of order identity
    op.execute("ALTER TABLE orders.order_transitions DROP CONSTRAINT fk_order_transitions_order_id_orders")
    _rekey_orders("orders")
    _add_shop("orders.order_transitions")
    op.execute("DROP INDEX orders.ix_orders_order_transitions_order_id")
    op.execute("CREATE INDEX ix_orders_order_transitions_order ON orders.order_transitions (shop_id, order_id)")
    op.execute("ALTER TABLE orders.order_transitions ADD CONSTRAINT fk_order_transitions_shop_id_orders "
               "FOREIGN KEY (shop_id, order_id) REFERENCES orders.orders (shop_id, order_id)")

    # warehouse
    op.execute("ALTER TABLE warehouse.backorders DROP CONSTRAINT fk_backorders_order_id_orders")
    op.execute("ALTER TABLE warehouse.shipments DROP CONSTRAINT fk_shipments_order_id_orders")
    _rekey_orders("warehouse")
    for table in ("warehouse.backorders", "warehouse.shipments"):
        _add_shop(table)
    op.execute("DROP INDEX warehouse.ix_warehouse_backorders_order")
    op.execute("CREATE UNIQUE INDEX ix_warehouse_backorders_order ON warehouse.backorders (shop_id, order_id, line_id)")
    op.execute("DROP INDEX warehouse.ix_warehouse_shipments_order_id")
    op.execute("CREATE INDEX ix_warehouse_shipments_order ON warehouse.shipments (shop_id, order_id)")
    for table in ("backorders", "shipments"):
        op.execute(f"ALTER TABLE warehouse.{table} ADD CONSTRAINT fk_{table}_shop_id_orders "
                   "FOREIGN KEY (shop_id, order_id) REFERENCES warehouse.orders (shop_id, order_id)")
    _picklists_name_shops()

    # tracking: its order rows may have been made by a warehouse event before order.accepted named the shop
    op.execute("UPDATE tracking.orders AS t SET shop_id = o.shop_id FROM orders.orders AS o "
               "WHERE t.shop_id IS NULL AND o.order_id = t.order_id")
    op.execute(f"UPDATE tracking.orders SET shop_id = '{UNKNOWN_SHOP}' WHERE shop_id IS NULL")
    op.execute("ALTER TABLE tracking.orders ALTER COLUMN shop_id SET NOT NULL")
    _rekey_orders("tracking")
    _add_shop("tracking.shipments")
    op.execute("DROP INDEX tracking.ix_tracking_shipments_order_id")
    op.execute("CREATE INDEX ix_tracking_shipments_order ON tracking.shipments (shop_id, order_id)")

    # returns: return ids are the shop's own too
    _rekey_orders("returns")
    for table in ("returns.shipments", "returns.refunds"):
        _add_shop(table)
    op.execute("ALTER TABLE returns.returns DROP CONSTRAINT pk_returns")
    op.execute("ALTER TABLE returns.returns ADD CONSTRAINT pk_returns PRIMARY KEY (shop_id, return_id)")
    op.execute("ALTER TABLE returns.refunds DROP CONSTRAINT uq_refunds_return_id")
    op.execute("ALTER TABLE returns.refunds ADD CONSTRAINT uq_refunds_return UNIQUE (shop_id, return_id)")
    for table in ("shipments", "returns", "refunds"):
        op.execute(f"DROP INDEX returns.ix_returns_{table}_order_id")
        op.execute(f"CREATE INDEX ix_returns_{table}_order ON returns.{table} (shop_id, order_id)")

    # routing
    _add_shop("routing.orders")
    _rekey_orders("routing")
    _add_shop("routing.shipments")


def downgrade() -> None:
    raise NotImplementedError("order ids are no longer unique across shops: there is no way back to one namespace")
