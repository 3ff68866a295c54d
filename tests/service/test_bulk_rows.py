"""Rows (services/common/db.py): many rows sent as one JSON array store exactly what SQLAlchemy's own
executemany stores, for every column type the services use, on the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DataError

from services.common.db import Rows

COLUMNS = ("name", "count", "weight", "price", "flag", "at", "ref", "document", "maybe", "raw", "code", "tags",
           "naive")


def _table(metadata: MetaData, name: str) -> Table:
    return Table(name, metadata,
                 Column("id", BigInteger, Identity(), primary_key=True),
                 Column("name", Text, unique=True), Column("count", Integer), Column("weight", Float),
                 Column("price", Numeric(8, 3)), Column("flag", Boolean), Column("at", DateTime(timezone=True)),
                 Column("ref", Uuid), Column("document", JSONB), Column("maybe", JSONB(none_as_null=True)),
                 Column("raw", LargeBinary), Column("code", String(12)), Column("tags", ARRAY(Text)),
                 Column("naive", DateTime))


ROWS: list[dict[str, Any]] = [
    {"name": "a", "count": 1, "weight": 0.5, "price": Decimal("1.250"), "flag": True,
     "at": datetime(2026, 12, 1, 9, tzinfo=UTC), "ref": uuid.UUID(int=7),
     "document": {"lines": [{"sku": "É-1", "q": 2}], "note": "it's \"quoted\", {braces}"}, "maybe": [1, None], "raw": b"\x00\xff{not json\\x",
     "code": "ÉÉ'\"\\\n\t", "tags": ["a", "b,c", "{d}", "NULL", ""], "naive": datetime(2026, 12, 1, 9, 30, 1, 5)},
    {"name": "b, with a comma", "count": None, "weight": None, "price": None, "flag": None, "at": None,
     "ref": None, "document": None, "maybe": None, "raw": None, "code": None, "tags": None, "naive": None},  # None: JSON null in `document`, SQL NULL in `maybe`
    {"name": "NULL", "count": -3, "weight": 1e-9, "price": Decimal("0"), "flag": False,
     "at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5))), "ref": str(uuid.UUID(int=8)), "document": [],
     "maybe": {}, "raw": b"\xfb\xff\xbf", "code": "", "tags": [], "naive": datetime(1999, 1, 1)},
    {"name": "floats", "count": 2**31 - 1, "weight": float("inf"), "price": Decimal("-12.345"), "flag": True,
     "at": None, "ref": None, "document": {"n": None}, "maybe": None, "raw": None, "code": "x" * 12, "tags": [None],
     "naive": None},
]


def test_rows_store_what_executemany_stores_for_every_type_and_null(engine: Engine) -> None:
    metadata = MetaData()
    by_sqlalchemy, by_arrays = _table(metadata, "by_sqlalchemy"), _table(metadata, "by_arrays")
    with engine.connect() as connection, connection.begin() as transaction:
        metadata.create_all(connection)
        connection.execute(insert(by_sqlalchemy), ROWS)
        rows = Rows(by_arrays, COLUMNS)
        connection.execute(rows.statement, rows.params(ROWS))
        kept = [f"{c}::text" for c in COLUMNS] + ["document IS NULL", "maybe IS NULL"]
        stored = [connection.execute(text(f"SELECT {', '.join(kept)} FROM {t} ORDER BY id")).all()
                  for t in ("by_sqlalchemy", "by_arrays")]
        assert stored[0] == stored[1] and len(stored[1]) == 4
        assert stored[1][1][-2:] == (False, True)  # JSON null kept apart from SQL NULL, as SQLAlchemy does
        transaction.rollback()


def test_rows_take_on_conflict_and_returning_and_an_empty_batch(engine: Engine) -> None:
    metadata = MetaData()
    table = _table(metadata, "upserted")
    rows = Rows(table, ("name", "count"))
    new = rows.statement
    upsert = new.on_conflict_do_update(index_elements=["name"], set_={"count": table.c.count + new.excluded.count}
                                       ).returning(table.c.name, table.c.count, text("xmax = 0"))
    with engine.connect() as connection, connection.begin() as transaction:
        metadata.create_all(connection)
        assert connection.execute(upsert, rows.params([])).all() == []
        first = connection.execute(upsert, rows.params([{"name": "x", "count": 1}, {"name": "y", "count": 2}]))
        assert sorted(first.all()) == [("x", 1, True), ("y", 2, True)]
        again = connection.execute(upsert, rows.params(iter([{"name": "y", "count": 5}])))
        assert again.all() == [("y", 7, False)]
        assert connection.execute(select(table.c.name).order_by(table.c.id)).scalars().all() == ["x", "y"]
        transaction.rollback()


def test_rows_refuse_a_string_too_long_for_its_column_instead_of_cutting_it(engine: Engine) -> None:
    metadata = MetaData()
    rows = Rows(_table(metadata, "too_long"), ("name", "code"))
    with engine.connect() as connection, connection.begin() as transaction:
        metadata.create_all(connection)
        with pytest.raises(DataError, match="too long"):
            connection.execute(rows.statement, rows.params([{"name": "n", "code": "x" * 13}]))
        transaction.rollback()
