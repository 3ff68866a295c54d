"""SQLAlchemy 2: the engine, the session factory units of work draw on, and multi-row writes."""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pydantic_core
from sqlalchemy import (
    ARRAY,
    JSON,
    Engine,
    Executable,
    LargeBinary,
    MetaData,
    String,
    Table,
    column,
    create_engine,
    text,
)
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


def make_engine(settings: Settings, *, pool_size: int | None = None, service: str | None = None) -> Engine:
    """An engine on the database `service`'s schema lives in (Settings.database_url_for), or the shared one."""
    return create_engine(
        settings.database_url_for(service),
        pool_size=pool_size or settings.database_pool_size,
        max_overflow=5,  # the relay holds a connection per topic while the broker acknowledges a batch
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=settings.database_connect_args(),
        json_serializer=_json_text,
        hide_parameters=True,  # an error's parameters are events' values: customers' addresses, emails, phones
    )


def _json_text(value: object) -> str:
    """JSONB columns (order documents, lines, pick lists) are written with pydantic's Rust serialiser: json.dumps
    cost a few per cent of a worker's CPU."""
    return pydantic_core.to_json(value).decode()


class Rows:
    """Many rows of one table sent as one JSON array, `INSERT ... SELECT ... FROM jsonb_array_elements(...)`:
    one parameter however many rows. Made once per table at import; `write(session, rows)` inserts a batch, with
    `statement` (ON CONFLICT and RETURNING added to `statement` as to any PostgreSQL insert) where plain inserting
    is not enough. Rows are inserted in the order given (identity columns count up along it).

    Why JSON: a multi-row VALUES (executemany) costs SQLAlchemy and psycopg2 Python work per value, and one array
    per column (unnest) still had psycopg2 quote every element into a literal (12 us a row of seven columns) and
    PostgreSQL parse the arrays back; pydantic's Rust serialiser writes the whole batch in a sixth of that, and
    PostgreSQL reads jsonb in a third of the time. Each value is cast from its JSON text to the column's type;
    strings go as TEXT, so a value too long for a VARCHAR is refused, as an insert refuses it, not cut."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table, self.columns = table, tuple(columns)
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        kinds = [table.c[name].type for name in self.columns]
        values = ", ".join(_from_json(f"r.value -> {i}", f"r.value ->> {i}", kind, dialect)
                           for i, kind in enumerate(kinds))
        self.source = text(f"SELECT {values} FROM jsonb_array_elements(CAST(:rows AS JSONB)) AS r").columns(
            *(column(name) for name in self.columns))
        self.convert = [(i, convert) for i, kind in enumerate(kinds) if (convert := _converter(kind)) is not None]
        self.statement: Insert = pg_insert(table).from_select(list(self.columns), self.source)

    def write(self, session: Session, rows: Iterable[Mapping[str, Any]],
              statement: Executable | None = None) -> Any:  # the Result: rows of RETURNING, if any
        return session.execute(self.statement if statement is None else statement, self.params(rows))

    def params(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        columns, convert = self.columns, self.convert
        table = [[row[name] for name in columns] for row in rows]
        for i, fn in convert:
            for values in table:
                values[i] = fn(values[i])
        # Infinity and NaN as strings: PostgreSQL's float and numeric read them back; JSON has no such numbers.
        return {"rows": pydantic_core.to_json(table, inf_nan_mode="strings").decode()}


def _from_json(element: str, as_text: str, kind: TypeEngine[Any], dialect: Any) -> str:
    """The SQL that reads one column's value out of a row's JSON array. JSON columns take the element itself
    (a JSON null stays JSON null unless the column says None is SQL NULL, SQLAlchemy's rule); bytes come as
    base64 text; everything else is the element's text cast to the column's type (a JSON null is SQL NULL)."""
    if isinstance(kind, JSON):
        target = kind.compile(dialect=dialect)
        return f"CAST(NULLIF({element}, 'null') AS {target})" if kind.none_as_null else f"CAST({element} AS {target})"
    if isinstance(kind, LargeBinary):
        return f"decode({as_text}, 'base64')"
    if isinstance(kind, ARRAY):
        return (f"CASE WHEN jsonb_typeof({element}) = 'array' THEN "
                f"CAST(ARRAY(SELECT jsonb_array_elements_text({element})) AS {kind.compile(dialect=dialect)}) END")
    if isinstance(kind, String):
        return as_text
    return f"CAST({as_text} AS {kind.compile(dialect=dialect)})"


def _converter(kind: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """Values pydantic's serialiser would not write as PostgreSQL reads them: bytes as standard base64."""
    if isinstance(kind, LargeBinary):
        return lambda v: None if v is None else b64encode(v).decode("ascii")
    return None


def hold_open(session: Session, seconds: float) -> None:
    """This transaction may sit idle for up to `seconds` between statements (a wave's route search between reading
    its stops and writing its plan), instead of the connection's bound (Settings.database_connect_args)."""
    session.execute(text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
                    {"ms": str(int(seconds * 1000))})


def unit_of_work_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)
