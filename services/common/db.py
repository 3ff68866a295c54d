"""SQLAlchemy 2 engine and the unit of work every handler runs in."""

from __future__ import annotations

from types import TracebackType

import pydantic_core
from sqlalchemy import Engine, MetaData, create_engine
from sqlalchemy.orm import Session, sessionmaker

from services.common.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Each service owns one PostgreSQL schema; its tables hang off this metadata."""
    return MetaData(schema=schema, naming_convention=NAMING)


def make_engine(settings: Settings, *, pool_size: int | None = None) -> Engine:
    return create_engine(
        settings.database_url,
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=5,  # the relay holds a connection per topic while the broker acknowledges a batch
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=settings.database_connect_args(),
        json_serializer=_json_text,
    )


def _json_text(value: object) -> str:
    """JSONB columns (order documents, lines, pick lists) are written with pydantic's Rust serialiser: json.dumps
    cost a few per cent of a worker's CPU."""
    return pydantic_core.to_json(value).decode()


class UnitOfWork:
    """One transaction. Rolls back on exit unless `commit()` was called."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()


def unit_of_work_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)
