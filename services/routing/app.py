"""The routing service: orders, packed shipments and drivers' scans in, routing.events out; closes dispatch
waves at each depot's cut-off times. Solving runs in a worker thread, off the event loop."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.handling import Scheduled
from services.common.service import Service
from services.routing import tables
from services.routing.domain.ruin_recreate import warm_up
from services.routing.handlers import handlers
from services.routing.settings import RoutingSettings
from services.routing.store import Store
from services.routing.waves import close_due_waves


def jobs(settings: RoutingSettings) -> Sequence[Scheduled]:
    return [Scheduled("close_due_waves", settings.routing_wave_check_s, close_due_waves)]


SERVICE = Service("routing", tables.messaging, handlers, settings=RoutingSettings, jobs=jobs, store=Store,
                  prepare=warm_up)
