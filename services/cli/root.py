"""The `fulfil` command: the root loads the settings and configures logging once; the platform's commands
(running.py, operating.py) and each service's own (services/<name>/commands.py, found through services/catalog.py)
hang off it."""

from __future__ import annotations

import sys

import typer

from services import catalog
from services.cli import dlq, examples, operating, running, signing, story
from services.common.commands import load_settings, unreachable_hint
from services.common.logging import configure_logging

app = typer.Typer(help="Fulfil: event-driven order fulfilment on Kafka and PostgreSQL.", no_args_is_help=True,
                  rich_markup_mode=None,  # plain help: no type column, paragraphs wrapped whole
                  pretty_exceptions_enable=False)


RUNS = {"worker", "api", "up"}
"""Commands that run the system and log as it runs; the others (the demo too: it prints its own progress) print
their result and one line per error."""


@app.callback()
def root(ctx: typer.Context,
         debug: bool = typer.Option(False, "--debug", help="Show the traceback of an unexpected error")) -> None:
    configure_logging(load_settings(), command=ctx.invoked_subcommand not in RUNS)


app.add_typer(running.commands)
app.add_typer(operating.commands)
app.add_typer(dlq.commands)
app.add_typer(story.commands)
app.add_typer(signing.commands)
app.add_typer(examples.example_app, name="example")
for _commands in catalog.commands():
    app.add_typer(_commands)


def main() -> None:
    """An unexpected error is one line (the traceback with --debug); a command's own failures say more already."""
    try:
        app()
    except Exception as exc:
        if "--debug" in sys.argv[1:]:
            raise
        typer.secho(f"fulfil: {said(exc)}", err=True, fg=typer.colors.RED)
        raise SystemExit(2) from None


def said(exc: Exception) -> str:
    """One line for an error no command caught: a file that is not there, an infrastructure that does not answer
    (with what to check), or anything else by its kind."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or 'cannot be read'}"
    detail = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]
    kind = type(exc).__name__
    if kind == "OperationalError":
        return f"the database did not answer: {detail}{unreachable_hint()}"
    if kind in ("KafkaConnectionError", "KafkaTimeoutError", "NoBrokersAvailable"):
        return f"Kafka did not answer: {detail}{unreachable_hint()}"
    return f"unexpected error: {kind}: {detail} (--debug shows the traceback)"
