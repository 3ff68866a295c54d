"""One settings object, built once at start-up from FULFIL_* variables and passed down."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def time_zone(value: str) -> str:
    """`value` if it names an IANA time zone, else a ValueError that says what is expected."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be an IANA time zone such as Europe/Berlin, got {value!r}") from None
    return value


class Settings(BaseSettings):
    """The knobs every service has; each service's own (FULFIL_<SERVICE>_*) are in a subclass beside it
    (services/<name>/settings.py). The README's configuration table lists them all."""

    model_config = SettingsConfigDict(env_prefix="FULFIL_", extra="ignore", frozen=True)

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach Kafka; SASL_SSL in most managed clusters")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism when the protocol is SASL_*")
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers (SSL, SASL_SSL)")
    kafka_ssl_certfile: Path | None = Field(None, description="Client certificate for mutual TLS")
    kafka_ssl_keyfile: Path | None = Field(None, description="Client key for mutual TLS")
    kafka_session_timeout_s: float = Field(
        10.0, gt=0, description="Consumer group session timeout; short by default for the embedded broker")
    kafka_heartbeat_interval_s: float = Field(1.0, gt=0, description="Consumer group heartbeat interval")
    kafka_rebalance_timeout_s: float = Field(
        6.0, gt=0, description="Rebalance timeout; Tansu's join waits this long, so keep it short there")
    topic_namespace: str = Field(
        "", pattern=r"^[a-z0-9._-]*$",
        description="Prefix of every topic and consumer group, to share one cluster between environments")
    topics_file: Path | None = Field(None, description="Topic spec file; default deploy/topics.yaml of the source tree")
    kafka_replication_factor: int | None = Field(
        None, ge=1, description="Copies of each partition of the topics Fulfil creates (default: deploy/topics.yaml's "
                                "replication, capped by the brokers the cluster has)")

    # PostgreSQL
    database_url: str = Field(
        "postgresql+psycopg2://postgres@127.0.0.1:5432/fulfil", description="SQLAlchemy URL of PostgreSQL")
    database_urls: dict[str, str] = Field(
        default_factory=dict,
        description="A database of its own for a service, by service name (JSON); FULFIL_<SERVICE>_DATABASE_URL "
                    "(FULFIL_WAREHOUSE_DATABASE_URL, ...) says the same for one service")
    database_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = Field(
        None, description="libpq sslmode; verify-full in production")
    database_sslrootcert: Path | None = Field(None, description="CA for verify-ca / verify-full")
    database_pool_size: int = Field(5, ge=1, description="Connections per worker process")

    # Processing
    batch_size: int = Field(500, ge=1, description="Events per database transaction at most")
    batch_wait_ms: int = Field(
        100, ge=1, le=1000, description="How long a batch waits to fill up to batch_size: each batch costs the "
        "worker, the broker and PostgreSQL CPU (a transaction, a publish), so fewer, fuller ones leave more for "
        "the work; the price is up to this much latency per stage when traffic is thin")
    db_retry_attempts: int = Field(
        12, ge=1, description="Attempts on a transient database error in a timer's job or a command before it gives "
        "up; event processing waits out an outage of any length")
    db_retry_base_delay_s: float = Field(0.1, gt=0, description="First back-off delay; doubles each attempt")
    db_retry_max_delay_s: float = Field(5.0, gt=0, description="Longest single back-off delay")
    outbox_sweep_interval_s: float = Field(2.0, gt=0, description="How often unsent outbox rows are looked for")
    outbox_sweep_grace_s: float = Field(
        5.0, ge=0, description="Rows younger than this are left to the publisher that wrote them")
    max_clock_skew_s: float = Field(
        300.0, ge=0, description="An event dated further ahead of the worker's clock than this is dead-lettered, "
        "never applied (a scan from 2099 would freeze a shipment's status)")
    ready_outbox_max_age_s: float = Field(
        60.0, gt=0, description="A worker whose oldest unsent outbox row is older than this says it is not ready")

    # Operations
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: JSON when stderr is not a terminal")
    http_host: str = Field("127.0.0.1", description="Address the worker's web endpoint binds; 0.0.0.0 in containers")
    http_port: int = Field(0, ge=0, le=65535, description="Port of the worker's HTTP API (warehouse: pick lists); 0 turns it off")
    http_trusted_proxies: str = Field(
        "", description="Proxies (comma-separated addresses) whose X-Forwarded-For is believed; none by default, "
        "so the rate limit keys on the connecting address")
    http_max_connections: int = Field(
        1000, ge=1, description="Connections (and requests in progress) an API holds at once; beyond, a request is "
        "answered 503. Request heads are bounded too: 32 KiB, 100 headers, 10 s to arrive")
    metrics_port: int = Field(0, ge=0, le=65535, description="Port of the worker's Prometheus /metrics; 0 turns it off")
    data_dir: Path = Field(Path(".fulfil"), description="Where `fulfil up` keeps PostgreSQL data and logs")
    faults: str = Field(
        "", description="Fault injection for crash tests only (crash_after_commit, freeze_in_transaction); never set "
        "in production")

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"kafka_bootstrap entries must be host:port, got {server.strip()!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg2://")):
            raise ValueError(f"database_url must be a postgresql:// URL (Fulfil runs on PostgreSQL only), got {value!r}")
        return value

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError("kafka_sasl_username and kafka_sasl_password are required with SASL protocols")
        return self

    def topic(self, logical: str) -> str:
        """Physical topic name of a logical one (`shop.orders`)."""
        return self.topic_namespace + logical

    def logical_topic(self, physical: str) -> str:
        return physical.removeprefix(self.topic_namespace)

    @property
    def fault_set(self) -> frozenset[str]:
        return frozenset(f.strip() for f in self.faults.split(",") if f.strip())

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None)
        if self.kafka_ssl_certfile:
            context.load_cert_chain(
                str(self.kafka_ssl_certfile), str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None)
        return context

    def aiokafka_options(self) -> dict[str, Any]:
        """Connection options shared by every aiokafka client the CLI creates."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        context = self.kafka_ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.kafka_security_protocol.startswith("SASL"):
            assert self.kafka_sasl_password is not None
            options.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password.get_secret_value(),
            )
        return options

    def database_url_for(self, service: str | None) -> str:
        """The database a service's schema lives in: its own where one is configured (database_urls, or
        FULFIL_<SERVICE>_DATABASE_URL), else the shared one."""
        if service is None:
            return self.database_url
        return (self.database_urls.get(service) or os.environ.get(f"FULFIL_{service.upper()}_DATABASE_URL")
                or self.database_url)

    def database_connect_args(self) -> dict[str, Any]:
        """A worker frozen (or hung) inside a transaction must not hold its rows from the worker that took its
        partitions for longer than the consumer group waits for it: PostgreSQL ends a transaction left idle that
        long, and a statement waits that long for a lock at most (then it is retried, like any transient error).
        A job that computes between statements on purpose says so for its own transaction (db.hold_open)."""
        bound_ms = int(self.kafka_session_timeout_s * 1000)
        args: dict[str, Any] = {"connect_timeout": 5, "application_name": "fulfil",
                                "options": f"-c lock_timeout={bound_ms} "
                                           f"-c idle_in_transaction_session_timeout={bound_ms}"}
        if self.database_sslmode:
            args["sslmode"] = self.database_sslmode
        if self.database_sslrootcert:
            args["sslrootcert"] = str(self.database_sslrootcert)
        return args


def env_names(*kinds: type[Settings]) -> dict[str, str]:
    """FULFIL_* variable name -> field description of the settings classes `kinds` (the common ones by default),
    for docs and the compose check."""
    return {f"FULFIL_{name.upper()}": field.description or ""
            for kind in kinds or (Settings,) for name, field in kind.model_fields.items()}
