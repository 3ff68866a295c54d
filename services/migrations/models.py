"""Every service's tables, gathered for Alembic from the services' declarations."""

from __future__ import annotations

from sqlalchemy import MetaData

from services.catalog import NAMES, services

SERVICE_SCHEMAS: tuple[str, ...] = NAMES


def all_metadata() -> list[MetaData]:
    return [service.metadata for service in services()]
