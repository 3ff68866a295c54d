"""What a service's handlers and jobs see: the context they run in, the emitter their unit of work gives them to
publish through, and the table that routes each event to its handler by the payload class the handler is typed for.

A handler is a function `(uow, event: Event[SomePayload], ctx) -> None`, or `(uow, events:
Sequence[Event[SomePayload]], ctx)` to take a run of consecutive events at once (multi-row statements); a union
of payload classes registers it for each. Registering reads the annotation, so the type a handler is written
for is the only place its event is named: the topic and event type come from the contract (schemas.registry).
It publishes through `uow.events(event).emit(payload)`, a payload and nothing else: the topic, key and
correlation id come from the contract too.
"""

from __future__ import annotations

import inspect
import types
import typing
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from schemas.base import Payload
from schemas.envelope import Envelope, Event, make_event
from schemas.registry import TOPIC_OF, correlation_of, key_of
from services.common.messaging import OutboxRecord
from services.common.settings import Settings

if TYPE_CHECKING:
    from services.common.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Emit:
    """An event a handler wants published, and where."""

    topic: str
    key: str
    event: Event[Payload]

    def record(self, physical_topic: str) -> OutboxRecord:
        return OutboxRecord(physical_topic, self.key.encode(), self.event.to_json(), self.event.event_id)


class Emitter:
    """Collects the events one cause led to, with deterministic ids: the n-th event of a type caused by one event
    always gets the same id, so a replay after a crash re-emits the same ids and consumers drop the copies. Work
    gets one from its unit of work (`uow.events(cause)`), which collects them all."""

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

    def emit(self, payload: Payload) -> None:
        """Publish `payload` on its topic, keyed and correlated as the contract says."""
        index = self._counts.get(payload.EVENT_TYPE, 0)
        self._counts[payload.EVENT_TYPE] = index + 1
        event_id = None
        if self.namespace is not None:
            event_id = uuid.uuid5(self.namespace, f"{payload.EVENT_TYPE}#{index}")
        event = make_event(payload, source=self.source, correlation_id=correlation_of(payload),
                           occurred_at=self.now, cause=self.cause, index=index, event_id=event_id)
        self.emits.append(Emit(TOPIC_OF[type(payload)], key_of(payload), event))


S = TypeVar("S", bound=Settings, covariant=True)


@dataclass(frozen=True, slots=True)
class Context(Generic[S]):
    """What a handler may know besides the event: the time (never read inside domain code), its service's
    settings (`Context[WarehouseSettings]`) and which service it runs in (the source of the events it emits)."""

    now: datetime
    settings: S
    service: str = "test"


class Handler(Protocol):
    def __call__(self, uow: UnitOfWork[object], event: Event[Payload], ctx: Context[Settings]) -> None: ...


class BatchHandler(Protocol):
    def __call__(self, uow: UnitOfWork[object], events: Sequence[Event[Payload]], ctx: Context[Settings]) -> None: ...


@dataclass(frozen=True)
class Batched:
    """A handler that takes a run of consecutive events (of the payload classes it is typed for) at once, so that
    it can write them with multi-row statements. It must behave as if called once per event, in order."""

    handle: BatchHandler


class Job(Protocol):
    """Work a timer starts rather than an event (closing pick waves, dispatch cut-offs): it runs in a
    transaction like a handler, and the events it publishes go through the same outbox."""

    def __call__(self, uow: UnitOfWork[Any], ctx: Context[Any]) -> None: ...  # its own service's store and settings


@dataclass(frozen=True)
class Scheduled:
    name: str
    interval_s: float
    job: Job


HandlerTable = Mapping[str, Mapping[str, Handler | Batched]]
"""topic -> event_type -> handler. Event types a service does not handle are skipped."""

F = TypeVar("F", bound=Callable[..., None])


class Handlers(Mapping[str, Mapping[str, Handler | Batched]]):
    """A service's handlers, registered with `@handlers.on` and looked up as topic -> event_type -> handler."""

    def __init__(self) -> None:
        self._table: dict[str, dict[str, Handler | Batched]] = {}

    def on(self, function: F) -> F:
        models, batched = _payload_classes(function)
        handler: Handler | Batched = Batched(typing.cast(BatchHandler, function)) if batched else typing.cast(
            Handler, function)
        for model in models:
            topic = TOPIC_OF[model]
            if model.EVENT_TYPE in self._table.get(topic, {}):
                raise ValueError(f"{model.EVENT_TYPE} on {topic} already has a handler")
            self._table.setdefault(topic, {})[model.EVENT_TYPE] = handler
        return function

    def __getitem__(self, topic: str) -> Mapping[str, Handler | Batched]:
        return self._table[topic]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


def _payload_classes(function: Callable[..., object]) -> tuple[tuple[type[Payload], ...], bool]:
    """The payload classes a handler's second parameter is typed for, and whether it takes a run of them."""
    name = list(inspect.signature(function).parameters)[1]
    hint = typing.get_type_hints(function)[name]
    batched = typing.get_origin(hint) is Sequence
    event = typing.get_args(hint)[0] if batched else hint
    if typing.get_origin(event) is not Event:
        raise TypeError(f"{function.__name__}: type its event as Event[SomePayload] (or a Sequence of them)")
    (payload,) = typing.get_args(event)
    models = typing.get_args(payload) if typing.get_origin(payload) in (typing.Union, types.UnionType) else (payload,)
    if not all(isinstance(m, type) and issubclass(m, Payload) for m in models):
        raise TypeError(f"{function.__name__}: {payload} is not a payload class")
    return models, batched
