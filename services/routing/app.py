"""The routing worker: orders, packed shipments and drivers' scans in, routing.events out; closes dispatch
waves at each depot's cut-off times. Solving runs in a worker thread, off the event loop."""

from __future__ import annotations

import faust

from services.common.db import make_engine, unit_of_work_factory
from services.common.faust_app import create_app, wire
from services.common.handling import Scheduled
from services.common.settings import Settings
from services.routing import tables
from services.routing.handlers import HANDLERS
from services.routing.waves import close_due_waves


def build(settings: Settings) -> faust.App:
    app = create_app("routing", settings)
    sessions = unit_of_work_factory(make_engine(settings))
    wire(app, settings, service="routing", sessions=sessions, messaging=tables.messaging, handlers=HANDLERS,
         jobs=[Scheduled("close_due_waves", settings.routing_wave_check_s, close_due_waves)])
    return app
