"""The scheduler: a service's jobs (closing pick waves, dispatch cut-offs), the outbox sweep and the outage watch,
each a Faust timer. A timer's failure is logged and the next tick tries again: an exception that reached Faust
would stop the worker.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from services.common import metrics
from services.common.errors import describe_error
from services.common.faust_app import App
from services.common.handling import Scheduled
from services.common.health import Health
from services.common.logging import get_logger
from services.common.messaging import Backlog, Messaging, OutboxRecord
from services.common.processor import Processor
from services.common.publishing import Outbox
from services.common.relay import RunSync
from services.common.retry import is_transient

log = get_logger(__name__)
OUTAGE_WATCH_S = 0.5


class Scheduler:
    def __init__(self, service: str, processor: Processor, outbox: Outbox, health: Health,
                 sessions: sessionmaker[Session], messaging: Messaging, run_db: RunSync,
                 run_outbox: RunSync) -> None:
        self.service, self.processor, self.outbox, self.health = service, processor, outbox, health
        self.sessions, self.messaging, self.run_db, self.run_outbox = sessions, messaging, run_db, run_outbox

    def attach(self, app: App, jobs: Sequence[Scheduled], sweep_interval_s: float) -> None:
        for scheduled in jobs:
            app.timer(scheduled.interval_s, name=f"{self.service}.{scheduled.name}")(self._ticker(scheduled))
        app.timer(sweep_interval_s, name=f"{self.service}.outbox_sweep")(self._guarded(self.sweep))
        app.timer(OUTAGE_WATCH_S, name=f"{self.service}.outage_watch")(self._guarded(self.watch_outage))

    def _ticker(self, scheduled: Scheduled) -> Callable[[], Awaitable[None]]:
        async def tick() -> None:
            await self.tick(scheduled)
        tick.__name__ = f"tick_{scheduled.name}"
        return self._guarded(tick)

    def _guarded(self, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def guarded() -> None:
            try:
                await work()
            except Exception:
                log.exception("timer.failed", work=work.__name__)
        guarded.__name__ = work.__name__
        return guarded

    async def tick(self, scheduled: Scheduled) -> None:
        started = time.perf_counter()
        records: list[OutboxRecord]
        try:
            records = await self.run_db(lambda: self.processor.run_job(scheduled.job))
        except Exception:
            log.exception("job.failed", job=scheduled.name)
            return
        finally:
            metrics.JOB_SECONDS.labels(self.service, scheduled.name).observe(time.perf_counter() - started)
        await self.outbox.publish(records)

    async def sweep(self) -> None:
        try:
            await self.outbox.sweep()
            backlog: Backlog = await self.run_outbox(lambda: _backlog(self.sessions, self.messaging))
        except Exception as exc:
            log.warning("outbox.sweep_failed", error=describe_error(exc))
            if is_transient(exc):  # an idle worker learns of an outage here
                self.health.database_down(describe_error(exc))
            return
        self.health.database_up()
        self.health.outbox(backlog.rows, backlog.oldest_s, backlog.parked)
        metrics.record_backlog(self.service, backlog.rows, backlog.oldest_s, backlog.parked)

    async def watch_outage(self) -> None:
        """While the database is away, consumption stands still: the batch that met the outage waits for it in
        its thread, the agent takes nothing more, Faust's stream buffer fills and its fetcher stops (the broker
        keeps the rest). Partitions are not paused through Faust, which drops what was fetched for a partition
        paused meanwhile. Reported here and on /readyz."""
        if self.health.outage and not self.health.paused:
            self.health.set_paused(True)
            log.warning("consumer.paused", reason=self.health.database_error)
        elif self.health.paused and not self.health.outage:
            self.health.set_paused(False)
            log.info("consumer.resumed")


def _backlog(sessions: sessionmaker[Session], messaging: Messaging) -> Backlog:
    with sessions() as session:
        return messaging.backlog(session)
