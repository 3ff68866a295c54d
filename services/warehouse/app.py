"""The warehouse service: orders.events, returns.events and warehouse.scans in, warehouse.events out; closes
pick waves on a timer and serves the staff's pick-list API."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.handling import Scheduled
from services.common.service import Service
from services.warehouse import tables
from services.warehouse.api import create_api
from services.warehouse.handlers import handlers
from services.warehouse.settings import WarehouseSettings
from services.warehouse.store import Store
from services.warehouse.waves import close_waves


def jobs(settings: WarehouseSettings) -> Sequence[Scheduled]:
    tick = min(0.25, settings.warehouse_wave_interval_s)  # often, so each tick has little to do (latency)
    return [Scheduled("close_waves", tick, close_waves)]


SERVICE = Service("warehouse", tables.messaging, handlers, settings=WarehouseSettings, jobs=jobs, api=create_api,
                  store=Store)
