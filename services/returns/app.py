"""The returns worker: shops' return requests, warehouse return scans, and the order, shipment and delivery
events that decide what may come back; returns.events out. Serves GET /returns/{rma} when FULFIL_HTTP_PORT
is set."""

from __future__ import annotations

import faust

from services.common.db import make_engine, unit_of_work_factory
from services.common.faust_app import create_app, wire
from services.common.http import serve_in_thread
from services.common.settings import Settings
from services.returns import tables
from services.returns.api import create_api
from services.returns.handlers import HANDLERS


def build(settings: Settings) -> faust.App:
    app = create_app("returns", settings)
    sessions = unit_of_work_factory(make_engine(settings))
    wire(app, settings, service="returns", sessions=sessions, messaging=tables.messaging, handlers=HANDLERS)
    serve_in_thread(create_api(sessions, settings), settings, "returns")
    return app
