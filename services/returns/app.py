"""The returns service: shops' return requests, warehouse return scans, and the order, shipment and delivery
events that decide what may come back; returns.events out. Serves GET /returns/{rma}."""

from __future__ import annotations

from services.common.service import Service
from services.returns import tables
from services.returns.api import create_api
from services.returns.handlers import handlers
from services.returns.settings import ReturnsSettings
from services.returns.store import Store

SERVICE = Service("returns", tables.messaging, handlers, settings=ReturnsSettings, api=create_api,
                  keyring=tables.keyring, store=Store)
