"""`fulfil db upgrade`: Alembic driven from the settings object, no alembic.ini needed. One history for the
whole database, one schema per service (services/catalog.py lists them)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from services.common.settings import Settings

MIGRATIONS = Path(__file__).parent


def alembic_config(settings: Settings) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = settings.database_url
    config.attributes["connect_args"] = settings.database_connect_args()
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def revision(settings: Settings, message: str) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=True)
