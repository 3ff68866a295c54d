"""The unit of work every handler and job runs in: one transaction, the service's store on it, and the events the
work decided to publish.

Handlers read as load, decide, save, emit: they load and save through `uow.store` (which holds all the SQL and
takes and returns values) and publish through `uow.events(cause)`. Nothing below a handler gets a session or a
publisher from anywhere else. The processor collects what was published (`collect_new_events`) and writes it to
the outbox in the same transaction, so an event goes out exactly when the state that caused it commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from schemas.base import Payload
from schemas.envelope import Event
from services.common.handling import Emit, Emitter

StoreT = TypeVar("StoreT", covariant=True)


class UnitOfWork(Generic[StoreT]):
    """One transaction. Rolls back on exit unless `commit()` was called; what was published is collected, never
    sent from here."""

    def __init__(self, sessions: sessionmaker[Session], store: Callable[[Session], StoreT], *, source: str,
                 now: datetime) -> None:
        self._sessions, self._make_store = sessions, store
        self.source, self.now = source, now
        self._emitters: dict[uuid.UUID, Emitter] = {}

    def __enter__(self) -> UnitOfWork[StoreT]:
        self.session = self._sessions()
        self.store = self._make_store(self.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def events(self, cause: Event[Payload] | None = None, *, namespace: uuid.UUID | None = None) -> Emitter:
        """Where the work publishes what `cause` (the event being handled) led to; a job, which has no cause, names
        a `namespace` (derived from what it builds) so that a retry publishes the same event ids. Asking twice for
        one cause gives the same emitter, so its n-th event of a type keeps its id however the work is split."""
        key = cause.event_id if cause is not None else namespace
        if key is None:
            raise ValueError("events need a causing event or a namespace")
        if (emitter := self._emitters.get(key)) is None:
            emitter = self._emitters[key] = Emitter(self.source, self.now, cause=cause.envelope if cause else None,
                                                    namespace=namespace)
        return emitter

    def collect_new_events(self) -> list[Emit]:
        """Everything published since the last collection, cause by cause in the order the causes were first
        named; the next work starts with none."""
        emits = [emit for emitter in self._emitters.values() for emit in emitter.emits]
        self._emitters = {}
        return emits


def no_store(session: Session) -> None:
    """For a unit of work that needs no service's store (the platform's own bookkeeping)."""
    return None
