"""The orders service: shop.orders in, orders.events out; learns picking progress from warehouse.events."""

from __future__ import annotations

from services.common.service import Service
from services.orders import tables
from services.orders.handlers import handlers
from services.orders.settings import OrdersSettings
from services.orders.store import Store

SERVICE = Service("orders", tables.messaging, handlers, settings=OrdersSettings, keyring=tables.keyring,
                  store=Store)
