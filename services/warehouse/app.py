"""The warehouse worker: orders.events and warehouse.scans in, warehouse.events out; closes pick waves on a
timer and serves the pick-list API when FULFIL_HTTP_PORT is set."""

from __future__ import annotations

import faust

from services.common.db import make_engine, unit_of_work_factory
from services.common.faust_app import create_app, wire
from services.common.http import serve_in_thread
from services.common.handling import Scheduled
from services.common.settings import Settings
from services.warehouse import tables
from services.warehouse.api import create_api
from services.warehouse.handlers import HANDLERS
from services.warehouse.waves import close_waves


def build(settings: Settings) -> faust.App:
    app = create_app("warehouse", settings)
    sessions = unit_of_work_factory(make_engine(settings))
    tick = min(0.25, settings.warehouse_wave_interval_s)  # often, so each tick has little to do (latency)
    wire(app, settings, service="warehouse", sessions=sessions, messaging=tables.messaging, handlers=HANDLERS,
         jobs=[Scheduled("close_waves", tick, close_waves)])
    serve_in_thread(create_api(sessions, settings), settings, "warehouse")
    return app
