"""What an error may say about itself in a log, a dead letter's reason or a header: never the values it was about.

PostgreSQL's error messages quote what they refused (`invalid input syntax for type uuid: "..."`), and its DETAIL
and CONTEXT quote the row or the JSON text around it, with a customer's email, phone or address; SQLAlchemy adds
the statement and its parameters. A database error is described by its class, its SQLSTATE condition and the
table, column or constraint it names, which is what an operator needs to find the cause. Other errors keep their
own repr: ours never carry event values (DecodeError names the field, never the value).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

from psycopg2 import errorcodes
from sqlalchemy.exc import DBAPIError


def database_error(exc: BaseException) -> BaseException | None:
    """The database error behind `exc`, if any (SQLAlchemy wraps the driver's; a handler's error may chain one)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            return current
        current = current.__cause__ or current.__context__
    return None


def describe_error(exc: BaseException) -> str:
    found = database_error(exc)
    if found is None:
        return repr(exc)
    assert isinstance(found, DBAPIError)
    orig = found.orig
    code = getattr(orig, "pgcode", None)
    parts = [f"{type(orig).__name__}" + (f" (SQLSTATE {code} {errorcodes.lookup(code)})" if code else "")]
    diag = getattr(orig, "diag", None)
    for label in ("schema_name", "table_name", "column_name", "constraint_name", "datatype_name"):
        if diag is not None and (named := getattr(diag, label, None)):
            parts.append(f"{label.removesuffix('_name')} {named}")
    if code is None:  # no answer from the server (connection refused, lost): the driver's words, no data in them
        parts.append(str(orig).splitlines()[0][:300] if str(orig) else "")
    described = ", ".join(p for p in parts if p)
    return described if found is exc else f"{type(exc).__name__} caused by {described}"


def scrub_exceptions(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: a logged exception that involves the database is logged as its description and the
    frames it went through, not its message."""
    exc_info = event.get("exc_info")
    if not exc_info:
        return event
    exc = exc_info if isinstance(exc_info, BaseException) else (
        exc_info[1] if isinstance(exc_info, tuple) else None)
    if exc is None:
        exc = sys.exc_info()[1]
    if exc is not None and database_error(exc) is not None:
        del event["exc_info"]
        event["error"] = describe_error(exc)
        event["stack"] = "".join(traceback.format_tb(exc.__traceback__))
    return event
