"""Closing (or re-planning) a wave from outside a worker, as `fulfil dispatch` and the demo do: the wave runs
in a transaction with its outbox, then its events are published through the same relay a worker uses (outcomes
per record, back-off, parking); what cannot go out now, or is left when the caller dies, a worker's sweep
publishes."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from services.common.db import make_engine, unit_of_work_factory
from services.common.messaging import OutboxRecord
from services.common.processor import Processor
from services.common.publishing import publish_once
from services.routing import tables
from services.routing.handlers import handlers
from services.routing.settings import RoutingSettings
from services.routing.store import Store
from services.routing.waves import dispatch, replan


def run_dispatch(settings: RoutingSettings, depot: str, day: date | None = None, again: str | None = None
                 ) -> list[OutboxRecord]:
    """Raises LookupError for an unknown depot or wave."""
    engine = make_engine(settings, pool_size=1, service="routing")
    sessions = unit_of_work_factory(engine)
    processor = Processor("routing", sessions, tables.messaging, handlers, settings, lambda: datetime.now(UTC),
                          store=Store)
    try:
        records = processor.run_job(
            (lambda uow, ctx: replan(uow, again, ctx.settings)) if again else
            (lambda uow, ctx: dispatch(uow, depot, ctx.settings, day=day)))
        asyncio.run(publish_once(settings, sessions, tables.messaging, records))
        return records
    finally:
        engine.dispose()
