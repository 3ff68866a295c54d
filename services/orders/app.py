"""The orders worker: shop.orders in, orders.events out; learns picking progress from warehouse.events."""

from __future__ import annotations

import faust

from services.common.db import make_engine, unit_of_work_factory
from services.common.faust_app import create_app, wire
from services.common.settings import Settings
from services.orders import tables
from services.orders.handlers import HANDLERS


def build(settings: Settings) -> faust.App:
    app = create_app("orders", settings)
    sessions = unit_of_work_factory(make_engine(settings))
    wire(app, settings, service="orders", sessions=sessions, messaging=tables.messaging, handlers=HANDLERS)
    return app
