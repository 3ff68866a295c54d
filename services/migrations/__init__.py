"""`fulfil db upgrade`: Alembic driven from the settings object, no alembic.ini needed. One history, one schema
per service (services/catalog.py lists them). Where services keep their schemas in databases of their own
(FULFIL_<SERVICE>_DATABASE_URL), every such database is brought to the same revision: each holds the whole history
(the schemas of services that live elsewhere stay empty there, ready for a service that moves)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from services.common.settings import Settings

MIGRATIONS = Path(__file__).parent


def alembic_config(settings: Settings, url: str | None = None) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url or settings.database_url
    config.attributes["connect_args"] = settings.database_connect_args()
    return config


def databases(settings: Settings) -> list[str]:
    """Every database some service's schema lives in, the shared one first."""
    from services.catalog import NAMES
    return list(dict.fromkeys([settings.database_url, *(settings.database_url_for(name) for name in NAMES)]))


def upgrade(settings: Settings, revision: str = "head") -> None:
    for url in databases(settings):
        command.upgrade(alembic_config(settings, url), revision)


def revision(settings: Settings, message: str) -> None:
    command.revision(alembic_config(settings), message=message, autogenerate=True)
