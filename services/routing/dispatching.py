"""Closing (or re-planning) a wave from outside a worker, as `fulfil dispatch` and the demo do: the wave runs
in a transaction with its outbox, then its events are published and their rows deleted; should the caller die
in between, a worker's outbox sweep publishes them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from services.common.db import make_engine, unit_of_work_factory
from services.common.kafka_io import Outgoing, send_all
from services.common.messaging import OutboxRecord
from services.common.processor import Processor
from services.routing import tables
from services.routing.handlers import handlers
from services.routing.settings import RoutingSettings
from services.routing.waves import dispatch, replan


def run_dispatch(settings: RoutingSettings, depot: str, day: date | None = None, again: str | None = None
                 ) -> list[OutboxRecord]:
    """Raises LookupError for an unknown depot or wave."""
    engine = make_engine(settings, pool_size=1)
    sessions = unit_of_work_factory(engine)
    processor = Processor("routing", sessions, tables.messaging, handlers, settings, lambda: datetime.now(UTC))
    try:
        records = processor.run_job(
            (lambda uow, ctx: replan(uow.session, again, ctx.now, ctx.settings)) if again else
            (lambda uow, ctx: dispatch(uow.session, depot, ctx.now, ctx.settings, day=day)))
        for topic in dict.fromkeys(r.topic for r in records):
            asyncio.run(send_all(settings, topic, [Outgoing(r.key, r.value, tuple(r.headers)) for r in records
                                                   if r.topic == topic]))
        with sessions.begin() as session:
            tables.messaging.delete_sent(session, [r.id for r in records if r.id is not None])
        return records
    finally:
        engine.dispose()
