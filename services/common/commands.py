"""What every `fulfil` command shares, whichever service contributes it: the settings loaded once, one way to fail
(one line, no traceback), one way to open a database session."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, overload

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError

from services.common.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from services.common.access_keys import AccessKeys

S = TypeVar("S", bound=Settings)
T = TypeVar("T")
_loaded: list[Settings] = []


def fail(message: str) -> typer.Exit:
    """One red line on stderr and exit code 2: what a command says instead of a traceback."""
    typer.secho(f"fulfil: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(2)


@overload
def load_settings() -> Settings: ...
@overload
def load_settings(kind: type[S]) -> S: ...
def load_settings(kind: type[Settings] = Settings) -> Settings:
    """The settings of this run (of a service's own class when a command needs its knobs), loaded once; a bad
    FULFIL_* value is a precise error."""
    if _loaded and isinstance(_loaded[0], kind):
        return _loaded[0]
    try:
        loaded = kind()
    except SettingsError as exc:  # a FULFIL_* value that should be JSON and is not
        raise fail(f"invalid configuration: {exc} (it must be JSON)") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"FULFIL_{'_'.join(str(p) for p in e['loc']).upper() or '(settings)'}: {e['msg']}"
            for e in exc.errors(include_url=False))
        raise fail(f"invalid configuration: {problems}") from None
    _loaded[:] = [loaded]
    return loaded


def unreachable_hint() -> str:
    """What to check when the database or Kafka does not answer: most often a new shell without the settings
    `fulfil up` wrote."""
    configured = any(name.startswith("FULFIL_") for name in os.environ)
    if not configured and Path(".fulfil/env").exists():
        return " (this shell has none of the settings `fulfil up` wrote: run `source .fulfil/env` first)"
    if not configured:
        return (" (is `fulfil up` running? In another shell, run `source .fulfil/env` in the directory it runs in, "
                "or set FULFIL_DATABASE_URL and FULFIL_KAFKA_BOOTSTRAP)")
    return " (is it running, and are FULFIL_DATABASE_URL and FULFIL_KAFKA_BOOTSTRAP right?)"


def first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [repr(exc)])[0]


@contextmanager
def session(*, write: bool = False, what: str = "the database did not answer",
            service: str | None = None) -> Iterator[Session]:
    """A session on a one-connection engine for one command, in `service`'s database (its own, where it has one);
    with `write`, committed at the end. A database that does not answer (or refuses) is one clear line, not a
    traceback."""
    from services.common.db import make_engine, unit_of_work_factory
    engine = make_engine(load_settings(), pool_size=1, service=service)
    factory = unit_of_work_factory(engine)
    try:
        with factory.begin() if write else factory() as opened:
            yield opened
    except typer.Exit:
        raise
    except Exception as exc:
        hint = unreachable_hint() if type(exc).__name__ == "OperationalError" else ""
        raise fail(f"{what}: {first_line(exc)}{hint}") from None
    finally:
        engine.dispose()


class ListedKey(Protocol):
    @property
    def key_id(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def echo_keys(keys: Sequence[ListedKey], id_width: int, none_yet: str) -> None:
    """A table of keys, one a line: id, shop, when made, live or when revoked (never the key itself)."""
    for k in keys:
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "live"
        typer.echo(f"{k.key_id:{id_width}} {k.owner:20} made {k.created_at:%Y-%m-%d %H:%M}   {revoked}")
    if not keys:
        typer.echo(none_yet)


def in_transaction(what: Callable[[Session], T], service: str | None = None) -> T:
    """`what(session)` in one committed transaction, in `service`'s database."""
    with session(write=True, service=service) as opened:
        return what(opened)


def key_commands(keys: Callable[[], AccessKeys], name: str, owner: str, what: str, service: str,
                 known: Callable[[Session, str], bool] | None = None) -> typer.Typer:
    """`fulfil <name> add OWNER | list | revoke KEY_ID` for one key table (`keys` gives it when a command runs:
    the CLI loads every command group to start, and the tables can wait); `owner` names the owner for people
    ("shop", "warehouse") and `what` says what a key opens; the keys live in `service`'s database; `known`
    refuses a key for an owner the service does not know."""
    group = typer.Typer(help=f"Keys that open {what} ({owner} by {owner}; only their hashes are kept).",
                        no_args_is_help=True)

    @group.command("add")
    # Defaults, not Annotated: typer reads string annotations in this module's globals, where these names are not.
    def add(who: str = typer.Argument(..., metavar=owner.upper(), help=f"the {owner} the key is for")) -> None:
        """A new key; only its hash is stored, and it works at once."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", who):
            raise fail(f"{owner} id must be letters, digits, '.', '_' or '-' (at most 64), got {who!r}")
        def add_key(session: Session) -> tuple[str, str] | None:
            if known is not None and not known(session, who):
                return None
            return keys().add(session, who, datetime.now(UTC))

        added = in_transaction(add_key, service)
        if added is None:
            raise fail(f"no {owner} {who!r} here: load it first (see `fulfil --help`)")
        key_id, key = added
        typer.echo(f"key {key_id} for {who} (it is shown once, only its hash is kept):\n{key}")

    @group.command("list")
    def listed() -> None:
        """Every key: its id, its owner, when it was made and, if so, revoked (never the key itself)."""
        echo_keys(in_transaction(keys().listed, service), 14, f"no keys yet: fulfil {name} add {owner.upper()}")

    @group.command("revoke")
    def revoke(key_id: str = typer.Argument(..., help=f"the key's id, as `fulfil {name} list` shows it")) -> None:
        """The key stops working at once."""
        if not in_transaction(lambda session: keys().revoke(session, key_id, datetime.now(UTC)), service):
            raise fail(f"no live key {key_id!r} (see `fulfil {name} list`)")
        typer.echo(f"revoked {key_id}")

    return group
