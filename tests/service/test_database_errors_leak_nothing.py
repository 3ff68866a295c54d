"""A database error never carries event values into a log, a dead letter's reason or a header, and PostgreSQL's own
log never prints an error, its statement, its parameters or the DETAIL and CONTEXT that quote them: on the real
embedded PostgreSQL, with errors that quote what they refused (a NUL in jsonb, a malformed uuid or integer)."""

from __future__ import annotations

import json
import logging
import stat

import pytest
import structlog
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from services.common.db import make_engine
from services.common.embedded import EmbeddedPostgres
from services.common.errors import describe_error
from services.common.logging import configure_logging, get_logger
from services.common.settings import Settings

SECRET = "ann.secret@example.com"
STATEMENTS = [
    ("SELECT CAST(:doc AS jsonb)", {"doc": json.dumps({"email": SECRET, "line2": "\u0000"})}),
    ("SELECT CAST(:id AS uuid)", {"id": SECRET}),
    ("SELECT CAST(:n AS integer)", {"n": SECRET}),
]


def failure(engine: Engine, statement: str, params: dict[str, str]) -> DBAPIError:
    with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.execute(text(statement), params)
    return raised.value


@pytest.mark.parametrize(("statement", "params"), STATEMENTS)
def test_an_error_is_described_by_its_condition_never_by_the_values(postgres: EmbeddedPostgres, statement: str,
                                                                    params: dict[str, str]) -> None:
    engine = make_engine(Settings(database_url=postgres.url("postgres")), pool_size=1)
    try:
        error = failure(engine, statement, params)
    finally:
        engine.dispose()
    assert SECRET in str(error.orig), "PostgreSQL quoted nothing: the test proved nothing"
    described = describe_error(error)
    assert SECRET not in described and "SQLSTATE" in described, described
    assert "parameters hidden" in str(error), "SQLAlchemy hides an error's parameters (its message still quotes)"
    wrapped = RuntimeError("a handler failed")
    wrapped.__cause__ = error
    assert SECRET not in describe_error(wrapped) and "caused by" in describe_error(wrapped)


def test_a_logged_database_error_keeps_its_frames_and_loses_its_values(postgres: EmbeddedPostgres,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    engine = make_engine(Settings(database_url=postgres.url("postgres")), pool_size=1)
    try:
        error = failure(engine, *STATEMENTS[0])
    finally:
        engine.dispose()
    try:
        get_logger("test").error("batch.failed", exc_info=error)
        logging.getLogger("sqlalchemy.test").error("raw logging too", exc_info=error)
        written = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    assert "batch.failed" in written and "raw logging too" in written
    assert SECRET not in written, written
    assert "test_database_errors_leak_nothing.py" in written, "the frames stay"


def test_postgres_own_log_holds_no_value_and_is_owner_only(postgres: EmbeddedPostgres) -> None:
    """Errors are the client's to report (described as above); the server's log keeps its own life (start, stop,
    checkpoints, fatal errors) and nothing a statement carried."""
    engine = make_engine(Settings(database_url=postgres.url("postgres")), pool_size=1)
    try:
        for statement, params in STATEMENTS:
            failure(engine, statement, params)
    finally:
        engine.dispose()
    log = postgres.data_dir / "server.log"
    content = log.read_text(errors="replace")
    assert "database system is ready to accept connections" in content, "not the server's log"
    assert SECRET not in content and "STATEMENT:" not in content and "CONTEXT:" not in content
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
