"""SQLAlchemy 2 engine and the unit of work every handler runs in."""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import pydantic_core
from sqlalchemy import JSON, Engine, Executable, LargeBinary, MetaData, Table, Uuid, column, create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeEngine

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


class Rows:
    """Many rows of one table sent as one array per column, `INSERT ... SELECT FROM unnest(...)`: SQLAlchemy and
    psycopg2 handle one parameter per column however many rows, where a multi-row VALUES (executemany) costs
    them Python work per value, a third of a worker's CPU in the allocation benchmark. Made once per table at
    import; `write(session, rows)` inserts a batch, with `statement` (ON CONFLICT and RETURNING added to
    `statement` as to any PostgreSQL insert) where plain inserting is not enough. Rows are inserted in the order given (identity columns count up along it). Bytes travel as
    base64 text: PostgreSQL parses an array of bytea literals at twice the cost of the same rows as VALUES."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table, self.columns = table, tuple(columns)
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        kinds = [table.c[name].type for name in self.columns]
        casts = ", ".join(f"CAST(:c{i} AS {'TEXT' if isinstance(k, LargeBinary) else k.compile(dialect=dialect)}[])"
                          for i, k in enumerate(kinds))
        outputs = ", ".join(f"decode(c{i}, 'base64')" if isinstance(k, LargeBinary) else f"c{i}"
                            for i, k in enumerate(kinds))
        names = ", ".join(f"c{i}" for i in range(len(kinds)))
        self.source = text(f"SELECT {outputs} FROM unnest({casts}) AS r({names})").columns(
            *(column(name) for name in self.columns))
        self.convert = [_converter(kind) for kind in kinds]
        self.statement: Insert = pg_insert(table).from_select(list(self.columns), self.source)

    def write(self, session: Session, rows: Iterable[Mapping[str, Any]],
              statement: Executable | None = None) -> Any:  # the Result: rows of RETURNING, if any
        return session.execute(self.statement if statement is None else statement, self.params(rows))

    def params(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
        rows = rows if isinstance(rows, Sequence) else list(rows)
        found = {}
        for i, (name, convert) in enumerate(zip(self.columns, self.convert, strict=True)):
            values = [row[name] for row in rows]
            found[f"c{i}"] = values if convert is None else [convert(v) for v in values]
        return found


def _converter(kind: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """What SQLAlchemy's bind processing would do to a value of this type, where psycopg2 cannot on its own:
    JSON as text (None as JSON null unless the column says SQL NULL, as SQLAlchemy does), UUIDs as text, bytes
    as base64."""
    if isinstance(kind, JSON):
        return (lambda v: None if v is None else _json_text(v)) if kind.none_as_null else _json_text
    if isinstance(kind, Uuid):
        return lambda v: None if v is None else str(v)
    if isinstance(kind, LargeBinary):
        return lambda v: None if v is None else b64encode(v).decode("ascii")
    return None


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
