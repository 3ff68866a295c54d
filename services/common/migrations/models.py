"""Every service's tables, gathered for Alembic. The one place that knows all schemas."""

from __future__ import annotations

from importlib import import_module

from sqlalchemy import MetaData

from services.common.settings import SERVICES

SERVICE_SCHEMAS: tuple[str, ...] = SERVICES


def all_metadata() -> list[MetaData]:
    found = []
    for service in SERVICES:
        try:
            module = import_module(f"services.{service}.tables")
        except ModuleNotFoundError:
            continue  # the service owns no tables yet
        found.append(module.metadata)
    return found
