"""The outbox relay: publish right after commit, and sweep up rows that are still unsent.

Publishing reports an outcome per record. What the broker acknowledged is deleted even when other records of
the same batch failed; a failure that may pass (broker away, leader moving) leaves the row for the sweep with a
back-off that grows per row; a record that can never be published (too large, refused for good) is parked with
its reason. So one record can never block another, nothing acknowledged is sent again, and nothing is retried
in a loop. Records with the same topic and key go out in their outbox order: a key whose record failed holds
the records behind it until the failed one is through.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.common.db import hold_open
from services.common.logging import get_logger
from services.common.messaging import Messaging, OutboxRecord
from services.common.retry import RetryPolicy, retry_transient

log = get_logger(__name__)
T = TypeVar("T")
Key = tuple[str, bytes | None]
RETRY_BASE_S, RETRY_CAP_S = 1.0, 30.0
"""Back-off of a row whose publishing failed: 1 s, 2 s, 4 s ... at most 30 s between attempts."""
HOLD_MARGIN_S = 5.0
"""How much longer than the producer's timeout the rows being published stay locked."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Why the broker did not take a record; `permanent` when trying again cannot help."""

    error: str
    permanent: bool


class Publisher(Protocol):
    async def send(self, records: list[OutboxRecord]) -> list[Failure | None]:
        """Send every record; return, in the same order, None for each the broker acknowledged and a Failure
        for each it did not."""


@dataclass
class Report:
    """What became of records handed to the relay."""

    sent: list[OutboxRecord] = field(default_factory=list)
    failed: list[tuple[OutboxRecord, str]] = field(default_factory=list)
    parked: list[tuple[OutboxRecord, str]] = field(default_factory=list)
    held: list[OutboxRecord] = field(default_factory=list)
    """Not sent at all: behind a failed record of the same key."""

    @property
    def unsent(self) -> list[OutboxRecord]:
        return [r for r, _ in self.failed] + self.held


def key_of(record: OutboxRecord) -> Key:
    return (record.topic, record.key)


def chains(records: list[OutboxRecord]) -> list[list[OutboxRecord]]:
    """Records that depend on each other (same topic and key), in order; records without a key stand alone."""
    keyed: dict[Key, list[OutboxRecord]] = {}
    alone: list[list[OutboxRecord]] = []
    for record in records:
        if record.key is None:
            alone.append([record])
        else:
            keyed.setdefault(key_of(record), []).append(record)
    return list(keyed.values()) + alone


async def publish_in_key_order(publisher: Publisher, records: list[OutboxRecord]) -> Report:
    """Send in rounds, the n-th record of every chain in round n, so that a record is only sent once the one
    before it with the same key was acknowledged (or parked). Most batches are one round."""
    report = Report()
    active = [(chain, 0) for chain in chains(records)]
    while active:
        heads = [chain[i] for chain, i in active]
        outcomes = await publisher.send(heads)
        following = []
        for (chain, i), record, outcome in zip(active, heads, outcomes, strict=True):
            if outcome is None:
                report.sent.append(record)
            elif outcome.permanent:
                report.parked.append((record, outcome.error))
            else:
                report.failed.append((record, outcome.error))
                report.held.extend(chain[i + 1:])
                continue
            if i + 1 < len(chain):
                following.append((chain, i + 1))
        active = following
    return report


class RunSync(Protocol):
    """Runs blocking work off the event loop (a thread pool of the worker's)."""

    def __call__(self, fn: Callable[[], T]) -> Awaitable[T]: ...


class OutboxRelay:
    def __init__(self, publisher: Publisher, sessions: sessionmaker[Session], messaging: Messaging,
                 run_sync: RunSync, grace_s: float, retry: RetryPolicy | None = None,
                 sweep_limit: int = 500, publish_timeout_s: float | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.publisher = publisher
        self.sessions = sessions
        self.messaging = messaging
        self.run_sync = run_sync
        self.grace = timedelta(seconds=grace_s)
        self.sweep_limit = sweep_limit
        self.hold_s = None if publish_timeout_s is None else publish_timeout_s + HOLD_MARGIN_S
        """How long the rows being published stay locked at most while the broker answers: longer than the
        producer waits for an answer, so a slow broker never lets a sweeper send them a second time."""
        self.left: dict[int, Key] = {}
        """Outbox rows this relay left unsent, by id: their keys hold later records back for the sweep."""
        self.outage_seen = False
        """The last sweep or publish met a database outage: the next sweep first waits for the database."""
        self.quiet_until = 0.0
        """Once this relay met a database outage, its next sweep waits until the database answers again, then one
        back-off delay and the grace period more (monotonic clock): rows a relay published as the database went
        are unlocked (their locks died with its connections) but stay in the outbox until that relay's settle gets
        through, at most one back-off delay after the database is back. A sweep before then sends them twice."""

    async def publish_committed(self, records: list[OutboxRecord]) -> Report:
        """Publish what a transaction just committed, holding its rows locked meanwhile so that no sweeper sends
        them too while the broker is slow to answer. Records of a key that has a row waiting in the outbox (or
        held by a sweeper) are left to the sweep, behind it."""
        if not records:
            return Report()
        session = self.sessions()
        try:
            def lock() -> tuple[set[int], set[Key]]:
                if self.hold_s is not None:
                    hold_open(session, self.hold_s)
                mine = self.messaging.lock_ids(session, [r.id for r in records if r.id is not None])
                return mine, self._behind_others(session, [r for r in records if r.id in mine])

            try:
                mine, behind = await self.run_sync(lock)
            except Exception as exc:  # the database went away right after the commit: the sweep sends them later
                self.outage_seen = True
                log.warning("outbox.publish_deferred", count=len(records), error=repr(exc)[:200])
                report = Report(held=list(records))
                self._remember(report)
                return report
            held_keys = set(self.left.values()) | behind | {key_of(r) for r in records if r.id not in mine}
            direct = [r for r in records if r.id in mine and key_of(r) not in held_keys]
            report = await publish_in_key_order(self.publisher, direct)
            report.held.extend(r for r in records if r.id in mine and key_of(r) in held_keys)
            try:
                await self.run_sync(lambda: self._settle(session, report))
            except Exception:
                self.outage_seen = True
                await self.run_sync(session.close)
                await self.run_sync(lambda: self._settle_in_new_transaction(report))
            self._remember(report)
            return report
        finally:
            await self.run_sync(session.close)

    async def sweep(self) -> Report:
        """Publish rows that are due (older than the grace period, past their back-off), in outbox order."""
        if self.outage_seen:
            await self.run_sync(self._ping)  # raises while the outage lasts
            self.outage_seen = False
            self.quiet_until = time.monotonic() + self.retry.max_delay_s + self.grace.total_seconds()
        if time.monotonic() < self.quiet_until:
            return Report()
        try:
            return await self._sweep()
        except Exception:
            self.outage_seen = True
            raise

    async def _sweep(self) -> Report:
        session = self.sessions()
        try:
            def lock() -> tuple[list[OutboxRecord], set[Key]]:
                if self.hold_s is not None:
                    hold_open(session, self.hold_s)
                due = self.messaging.lock_unsent(session, self.grace, self.sweep_limit)
                return due, self._behind_others(session, due)

            rows, behind = await self.run_sync(lock)
            ready = [r for r in rows if key_of(r) not in behind]
            report = await publish_in_key_order(self.publisher, ready) if ready else Report()
            report.held.extend(r for r in rows if key_of(r) in behind)
            try:
                await self.run_sync(lambda: self._settle(session, report))
            except Exception:  # sent, but the database went before it heard: settled once it is back
                self.outage_seen = True
                await self.run_sync(session.close)
                await self.run_sync(lambda: self._settle_in_new_transaction(report))
            if rows:
                log.warning("outbox.swept", sent=len(report.sent), failed=len(report.failed),
                            parked=len(report.parked), held=len(report.held))
            self._remember(report)
            if self.left:
                gone = await self.run_sync(lambda: self._gone(list(self.left)))
                for row_id in gone:
                    self.left.pop(row_id, None)
            return report
        finally:
            await self.run_sync(session.close)

    def _behind_others(self, session: Session, records: list[OutboxRecord]) -> set[Key]:
        """Keys whose oldest row in the outbox is not among `records`: an earlier record of the key is still
        unsent, held by another publisher (one frozen mid-publish, say) or waiting in its back-off, and a later
        one must never overtake it on the wire."""
        firsts: dict[Key, int] = {}
        for r in records:
            if r.key is not None and r.id is not None:
                firsts[key_of(r)] = min(r.id, firsts.get(key_of(r), r.id))
        if not firsts:
            return set()
        heads = self.messaging.first_ids(session, [(t, k) for t, k in firsts if k is not None])
        return {(t, k) for (t, k), first in firsts.items() if k is not None and heads.get((t, k), first) < first}

    def _remember(self, report: Report) -> None:
        for record in [*report.sent, *(r for r, _ in report.parked)]:
            self.left.pop(record.id, None)  # type: ignore[arg-type]
        for record in report.unsent:
            if record.id is not None:
                self.left[record.id] = key_of(record)

    def _ping(self) -> None:
        with self.sessions() as session:
            session.execute(text("SELECT 1"))

    def _gone(self, ids: list[int]) -> set[int]:
        with self.sessions() as session:
            return set(ids) - self.messaging.still_unsent(session, ids)

    def _settle_in_new_transaction(self, report: Report) -> None:
        """Retried through database outages of any length: a row left behind would only be sent again (harmless
        to consumers, who dedupe by event_id, but noise on the wire)."""
        def settle() -> None:
            with self.sessions() as session:
                self._settle(session, report)

        retry_transient(settle, self.retry.forever())

    def _settle(self, session: Session, report: Report) -> None:
        self.messaging.delete_sent(session, [r.id for r in report.sent if r.id is not None])
        parked = [(r.id, why) for r, why in report.parked if r.id is not None]
        if parked:
            log.error("outbox.parked", count=len(parked), topics=sorted({r.topic for r, _ in report.parked}),
                      reason=report.parked[0][1])
        self.messaging.park(session, parked)
        self.messaging.defer(session, [(r.id, why) for r, why in report.failed if r.id is not None],
                             RETRY_BASE_S, RETRY_CAP_S)
        session.commit()
