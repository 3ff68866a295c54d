"""Upgrading a database written before order identity was per shop (revision 0008) keeps every row: each row that
names an order gets the order's shop, and stored pick lists take the new shape."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from services.common.embedded import EmbeddedPostgres
from services.common.settings import Settings
from services.migrations import upgrade

pytestmark = pytest.mark.integration

LEGACY = """
INSERT INTO orders.orders (order_id, shop_id, status, placed_at, updated_at, placed_event_id, document)
VALUES ('A-1', 'acme', 'picking', now(), now(), gen_random_uuid(), '{}'),
       ('G-1', 'globex', 'accepted', now(), now(), gen_random_uuid(), '{}');
INSERT INTO orders.order_transitions (order_id, from_status, to_status, at, event_id)
VALUES ('A-1', NULL, 'accepted', now(), gen_random_uuid());
INSERT INTO warehouse.orders (order_id, shop_id, policy, status, latitude, longitude, lines, delivery, accepted_at)
VALUES ('A-1', 'acme', 'ship_available', 'open', 51, 3, '[]', '{}', now()),
       ('G-1', 'globex', 'ship_available', 'open', 51, 3, '[]', '{}', now());
INSERT INTO warehouse.shipments (shipment_id, order_id, warehouse_id, status, rule, explanation, reserved_at,
                                 picklist_id, tote)
VALUES ('SH-A', 'A-1', 'W', 'picking', 'single_warehouse', 'x', now(), 'PL-1', 'T01');
INSERT INTO warehouse.backorders (order_id, line_id, sku, quantity, since) VALUES ('G-1', '1', 'SKU', 2, now());
INSERT INTO warehouse.picklists (picklist_id, warehouse_id, wave_id, issued_at, document)
VALUES ('PL-1', 'W', 'WV-1', now(), CAST(:picklist AS jsonb));
INSERT INTO tracking.orders (order_id, shop_id, status, accepted_at, updated_at)
VALUES ('A-1', NULL, 'accepted', now(), now()), ('X-9', NULL, 'accepted', now(), now());
INSERT INTO tracking.shipments (shipment_id, order_id, status, status_at, updated_at)
VALUES ('SH-A', 'A-1', 'picking', now(), now());
INSERT INTO routing.orders (order_id, delivery_method) VALUES ('G-1', 'own_fleet');
INSERT INTO returns.orders (order_id, shop_id, currency, lines, discount, shipping, status, accepted_at)
VALUES ('A-1', 'acme', 'EUR', '[]', 0, 0, 'accepted', now());
INSERT INTO returns.returns (return_id, order_id, shop_id, status, lines, requested_at, updated_at)
VALUES ('R-1', 'A-1', 'acme', 'rejected', '[]', now(), now());
"""
PICKLIST = {"picklist_id": "PL-1", "warehouse_id": "W", "wave_id": "WV-1", "issued_at": "2026-12-01T09:00:00Z",
            "order_ids": ["A-1"], "lines": [{"sequence": 1, "zone": "A", "aisle": 1, "bay": 1, "level": 1, "bin": "B",
                                             "sku": "SKU", "quantity": 1,
                                             "totes": [{"order_id": "A-1", "tote": "T01", "quantity": 1}]}]}


def test_rows_written_before_per_shop_identity_get_their_shop(postgres: EmbeddedPostgres) -> None:
    postgres.create_database("identity_upgrade")
    settings = Settings(database_url=postgres.url("identity_upgrade"))
    upgrade(settings, "0008")
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        for statement in LEGACY.strip().split(";\n"):
            connection.execute(text(statement), {"picklist": json.dumps(PICKLIST)} if ":picklist" in statement else {})
    upgrade(settings)
    with engine.connect() as connection:
        def rows(sql: str) -> list[tuple[object, ...]]:
            return [tuple(row) for row in connection.execute(text(sql))]

        assert rows("SELECT shop_id, order_id FROM orders.order_transitions") == [("acme", "A-1")]
        assert rows("SELECT shop_id, shipment_id FROM warehouse.shipments") == [("acme", "SH-A")]
        assert rows("SELECT shop_id, order_id FROM warehouse.backorders") == [("globex", "G-1")]
        assert rows("SELECT shop_id, order_id FROM tracking.orders ORDER BY order_id") == [("acme", "A-1"),
                                                                                           ("?", "X-9")]
        assert rows("SELECT shop_id FROM tracking.shipments") == [("acme",)]
        assert rows("SELECT shop_id, order_id FROM routing.orders") == [("globex", "G-1")]
        assert rows("SELECT shop_id, return_id FROM returns.returns") == [("acme", "R-1")]
        (document,) = connection.execute(text("SELECT document FROM warehouse.picklists")).scalars()
        assert document["orders"] == [{"shop_id": "acme", "order_id": "A-1"}] and "order_ids" not in document
        assert document["lines"][0]["totes"][0]["shop_id"] == "acme"
    with engine.begin() as connection:  # and the same id is now free for another shop
        connection.execute(text(
            "INSERT INTO orders.orders (order_id, shop_id, status, placed_at, updated_at, placed_event_id, document) "
            "VALUES ('A-1', 'globex', 'accepted', now(), now(), gen_random_uuid(), '{}')"))
    engine.dispose()
