"""The outbox relay: publish right after commit, and sweep up rows a crash left unsent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from services.common.logging import get_logger
from services.common.messaging import Messaging, OutboxRecord
from services.common.retry import RetryPolicy, retry_transient

log = get_logger(__name__)
T = TypeVar("T")


class Publisher(Protocol):
    async def publish(self, records: list[OutboxRecord]) -> None:
        """Send every record and return once the broker has acknowledged all of them."""


RunSync = Callable[[Callable[[], T]], Awaitable[T]]


class OutboxRelay:
    def __init__(self, publisher: Publisher, sessions: sessionmaker[Session], messaging: Messaging,
                 run_sync: RunSync[object], grace_s: float, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.publisher = publisher
        self.sessions = sessions
        self.messaging = messaging
        self.run_sync = run_sync
        self.grace = timedelta(seconds=grace_s)

    async def publish_committed(self, records: list[OutboxRecord]) -> None:
        """Publish what a transaction just committed; a failure leaves the rows to the sweep."""
        if not records:
            return
        await self.publisher.publish(records)
        ids = [r.id for r in records if r.id is not None]
        if ids:
            await self.run_sync(lambda: self._delete_sent(ids))

    def _delete_sent(self, ids: list[int]) -> None:
        """Retried through short database outages: a row left behind would be re-sent by the sweep
        (harmless to consumers, who dedupe by event_id, but noise on the wire)."""
        def mark() -> None:
            with self.sessions() as session:
                self.messaging.delete_sent(session, ids)
                session.commit()

        retry_transient(mark, self.retry)

    async def sweep(self) -> int:
        """Publish rows left unsent (older than the grace period) by a crash; returns how many."""
        session = self.sessions()
        try:
            rows: list[OutboxRecord] = await self.run_sync(  # type: ignore[assignment]
                lambda: self.messaging.lock_unsent(session, self.grace))
            if rows:
                await self.publisher.publish(rows)
                await self.run_sync(lambda: self._commit_sent(session, rows))
                log.warning("outbox.swept", count=len(rows))
            else:
                await self.run_sync(session.rollback)
            return len(rows)
        finally:
            await self.run_sync(session.close)

    def _commit_sent(self, session: Session, rows: list[OutboxRecord]) -> None:
        self.messaging.delete_sent(session, [r.id for r in rows if r.id is not None])
        session.commit()


