"""The one JSON envelope every message on every topic travels in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import Field

from schemas.base import Model, Payload, UtcDatetime

SOURCE_PATTERN = r"^(shop|service|device|carrier):[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class Envelope(Model):
    """Wire form. `payload` stays a plain mapping here; the registry types it by event_type."""

    event_id: uuid.UUID = Field(description="Idempotency key: a redelivered event keeps its id.")
    event_type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", examples=["order.placed"])
    schema_version: int = Field(ge=1)
    occurred_at: UtcDatetime
    source: str = Field(pattern=SOURCE_PATTERN, examples=["shop:acme", "service:orders"])
    correlation_id: str = Field(min_length=1, max_length=128, description="The order id (or the aggregate id).")
    causation_id: uuid.UUID | None = Field(default=None, description="The event that caused this one.")
    payload: dict[str, Any]


P = TypeVar("P", bound=Payload, covariant=True)


@dataclass(frozen=True, slots=True)
class Event(Generic[P]):
    """An envelope whose payload has been validated into its model; `Event[OrderPlaced]` is typed to it."""

    envelope: Envelope
    payload: P

    @property
    def event_id(self) -> uuid.UUID:
        return self.envelope.event_id

    def to_json(self) -> bytes:
        return self.envelope.model_dump_json().encode()


def derive_event_id(cause: uuid.UUID, event_type: str, index: int) -> uuid.UUID:
    """Deterministic id of the index-th event of a type caused by `cause`, so replays re-emit the same ids."""
    return uuid.uuid5(cause, f"{event_type}#{index}")


def make_event(
    payload: Payload,
    *,
    source: str,
    correlation_id: str,
    occurred_at: datetime,
    cause: Envelope | None = None,
    index: int = 0,
    event_id: uuid.UUID | None = None,
) -> Event[Payload]:
    """Wrap a payload in an envelope. Derived from `cause` unless an explicit id is given."""
    if event_id is None:
        if cause is None:
            raise ValueError("make_event needs either a causing envelope or an explicit event_id")
        event_id = derive_event_id(cause.event_id, payload.EVENT_TYPE, index)
    envelope = Envelope(
        event_id=event_id,
        event_type=payload.EVENT_TYPE,
        schema_version=payload.SCHEMA_VERSION,
        occurred_at=occurred_at,
        source=source,
        correlation_id=correlation_id,
        causation_id=cause.event_id if cause else None,
        payload=payload.model_dump(mode="json"),
    )
    return Event(envelope=envelope, payload=payload)
