"""Collects a handler's events with deterministic ids: the n-th event of a type caused by one event always
gets the same id, so a replay after a crash re-emits the same ids and consumers drop the copies."""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas.base import Payload
from schemas.envelope import Envelope, make_event
from services.common.processor import Emit


class Emitter:
    def __init__(self, source: str, now: datetime, cause: Envelope | None = None,
                 namespace: uuid.UUID | None = None) -> None:
        """`cause` is the event being handled; jobs without one pass a `namespace` uuid (e.g. derived from
        the wave they build)."""
        if cause is None and namespace is None:
            raise ValueError("an Emitter needs a causing event or a namespace")
        self.source = source
        self.now = now
        self.cause = cause
        self.namespace = namespace
        self.emits: list[Emit] = []
        self._counts: dict[str, int] = {}

    def add(self, topic: str, key: str, payload: Payload, correlation_id: str) -> None:
        index = self._counts.get(payload.EVENT_TYPE, 0)
        self._counts[payload.EVENT_TYPE] = index + 1
        event_id = None
        if self.namespace is not None:
            event_id = uuid.uuid5(self.namespace, f"{payload.EVENT_TYPE}#{index}")
        event = make_event(payload, source=self.source, correlation_id=correlation_id, occurred_at=self.now,
                           cause=self.cause, index=index, event_id=event_id)
        self.emits.append(Emit(topic, key, event))
