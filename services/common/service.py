"""A service as the platform sees it: each service declares itself once in its app module (name, tables, handlers,
timer jobs, HTTP API; its `fulfil` commands live beside it in commands.py) and services/catalog.py lists them.
Common code works from the declaration and knows no service by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData
from sqlalchemy.orm import Session, sessionmaker

from services.common.handling import Handlers, Scheduled
from services.common.messaging import Messaging
from services.common.settings import Settings
from services.common.signing_keys import Keyring
from services.common.unit_of_work import no_store

if TYPE_CHECKING:
    from services.common.faust_app import App


def no_jobs(settings: Settings) -> Sequence[Scheduled]:
    return ()


@dataclass(frozen=True)
class Service:
    name: str
    """Also its PostgreSQL schema, its consumer group and the source of its events (service:<name>)."""
    messaging: Messaging
    """Its inbox, outbox and dead letters, on its tables' metadata."""
    handlers: Handlers
    jobs: Callable[[Any], Sequence[Scheduled]] = no_jobs
    """Timer work (closing waves), from the settings that pace it."""
    api: Callable[[sessionmaker[Session], Any], Any] | None = None
    """Its HTTP API (a FastAPI app) from its settings, served when FULFIL_HTTP_PORT is set."""
    settings: type[Settings] = Settings
    """Its settings class: the common settings and its own FULFIL_<NAME>_* knobs."""
    keyring: Keyring | None = None
    """The shops' public keys, for a service that reads a shop's topic: each of its events must be signed."""
    store: Callable[[Session], object] = no_store
    """Its store on a transaction's session: what its unit of work exposes to handlers and jobs."""
    prepare: Callable[[], None] | None = None
    """Work done once before its worker consumes (compiling the route search), so no event waits for it."""

    def __post_init__(self) -> None:
        from schemas.registry import SHOP_BOUND
        if self.keyring is None and (bound := sorted(set(SHOP_BOUND) & set(self.handlers))):
            raise ValueError(f"service {self.name!r} reads {', '.join(bound)} and so needs a keyring to check "
                             f"the shops' signatures")

    @property
    def metadata(self) -> MetaData:
        return self.messaging.metadata

    @property
    def topics(self) -> list[str]:
        """The topics it consumes."""
        return list(self.handlers)

    def build(self, settings: Settings) -> App:
        """Its worker, a Faust app: an agent for its topics, its jobs' timers, the outbox relay and, if any, its
        API. `settings` are of its own class (`self.settings`)."""
        from services.common.db import make_engine, unit_of_work_factory
        from services.common.http import serve_in_thread
        from services.common.worker import build
        if self.prepare is not None:
            self.prepare()
        sessions = unit_of_work_factory(make_engine(settings, service=self.name))
        app = build(settings, service=self.name, sessions=sessions, messaging=self.messaging,
                    handlers=self.handlers, jobs=self.jobs(settings), keyring=self.keyring, store=self.store)
        if self.api is not None:
            serve_in_thread(self.api(sessions, settings), settings, self.name)
        return app
