"""The tracking worker: orders, warehouse, routing and carrier events in, tracking.events out; serves the
tracking API when FULFIL_HTTP_PORT is set."""

from __future__ import annotations

import faust

from services.common.db import make_engine, unit_of_work_factory
from services.common.faust_app import create_app, wire
from services.common.http import serve_in_thread
from services.common.settings import Settings
from services.tracking import tables
from services.tracking.api import create_api
from services.tracking.handlers import HANDLERS


def build(settings: Settings) -> faust.App:
    app = create_app("tracking", settings)
    sessions = unit_of_work_factory(make_engine(settings))
    wire(app, settings, service="tracking", sessions=sessions, messaging=tables.messaging, handlers=HANDLERS)
    serve_in_thread(create_api(sessions, settings), settings, "tracking")
    return app
