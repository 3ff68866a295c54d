"""The tracking service: orders, warehouse, routing and carrier events in, tracking.events out; serves the
customers' and shops' tracking API."""

from __future__ import annotations

from services.common.service import Service
from services.tracking import tables
from services.tracking.api import create_api
from services.tracking.handlers import handlers
from services.tracking.settings import TrackingSettings
from services.tracking.store import Store

SERVICE = Service("tracking", tables.messaging, handlers, settings=TrackingSettings, api=create_api, store=Store)
