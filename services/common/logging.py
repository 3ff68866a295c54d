"""structlog configured once at start-up: JSON when stderr is not a terminal, readable otherwise."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import FilteringBoundLogger, Processor

from services.common.errors import scrub_exceptions
from services.common.settings import Settings


def configure_logging(settings: Settings, *, command: bool = False) -> None:
    """`command`: a one-shot command, whose output is its result and one line per error: only errors are logged,
    and the Kafka client's and asyncio's complaints about a failure the command reports itself are not."""
    level = logging.ERROR if command else getattr(logging, settings.log_level.upper())
    as_json = settings.log_format == "json" or (settings.log_format == "auto" and not sys.stderr.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, scrub_exceptions, structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(foreign_pre_chain=[*shared, scrub_exceptions],
                                                             processor=renderer))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "faust", "mode", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if command:
        for reported in ("aiokafka", "asyncio", "kafka"):
            logging.getLogger(reported).setLevel(logging.CRITICAL)


def get_logger(name: str) -> FilteringBoundLogger:
    """The wrapper class configure_logging sets: a filtering bound logger."""
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger
