"""The `fulfil` command: the root loads the settings and configures logging once; the platform's commands
(running.py, operating.py) and each service's own (services/<name>/commands.py, found through services/catalog.py)
hang off it."""

from __future__ import annotations

import typer

from services import catalog
from services.cli import operating, running
from services.common.commands import load_settings
from services.common.logging import configure_logging

app = typer.Typer(help="Fulfil: event-driven order fulfilment on Kafka and PostgreSQL.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def root() -> None:
    configure_logging(load_settings())


app.add_typer(running.commands)
app.add_typer(operating.commands)
for _commands in catalog.commands():
    app.add_typer(_commands)


def main() -> None:
    app()
