"""Alembic environment: one history for the whole database, one PostgreSQL schema per service."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from services.common.settings import Settings
from services.migrations.models import SERVICE_SCHEMAS, all_metadata

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or Settings().database_url
    connect_args = config.attributes.get("connect_args", {})
    engine = create_engine(url, connect_args=connect_args)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=all_metadata(),
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name in SERVICE_SCHEMAS,
            version_table_schema="public",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
