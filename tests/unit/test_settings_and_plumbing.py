from pathlib import Path

import psycopg2
import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError

from services.common.retry import RetryPolicy, backoff_delay, is_transient, retry_transient
from services.common.settings import Settings, env_names
from services.common.topics import load_spec

ROOT = Path(__file__).resolve().parents[2]


def every_setting() -> dict[str, str]:
    """Every FULFIL_* variable: the common settings and each service's own."""
    from services.catalog import services
    return env_names(Settings, *(service.settings for service in services()))


def test_settings_come_from_fulfil_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FULFIL_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("FULFIL_BATCH_SIZE", "50")
    settings = Settings()
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"
    assert settings.batch_size == 50


def test_bad_settings_name_the_field_and_the_value() -> None:
    with pytest.raises(ValidationError, match="kafka_bootstrap entries must be host:port, got 'kafka'"):
        Settings(kafka_bootstrap="kafka")
    with pytest.raises(ValidationError, match="must be a postgresql:// URL"):
        Settings(database_url="sqlite:///x.db")


def test_sasl_needs_credentials_and_builds_client_options() -> None:
    with pytest.raises(ValidationError, match="kafka_sasl_username and kafka_sasl_password are required"):
        Settings(kafka_security_protocol="SASL_SSL")
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="fulfil", kafka_sasl_password="secret")
    options = settings.aiokafka_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "secret"
    assert options["ssl_context"] is not None
    assert "secret" not in repr(settings)


def test_postgres_tls_settings_reach_the_driver() -> None:
    args = Settings(database_sslmode="verify-full", database_sslrootcert=Path("/ca.pem")).database_connect_args()
    assert args["sslmode"] == "verify-full" and args["sslrootcert"] == "/ca.pem"


def test_a_namespace_prefixes_every_physical_topic() -> None:
    settings = Settings(topic_namespace="staging.")
    assert settings.topic("shop.orders") == "staging.shop.orders"
    assert settings.logical_topic("staging.shop.orders") == "shop.orders"


def test_connection_failures_are_transient_but_integrity_errors_are_not() -> None:
    lost = OperationalError("SELECT 1", {}, psycopg2.OperationalError("server closed the connection"))
    assert is_transient(lost)
    duplicate = IntegrityError("INSERT", {}, psycopg2.IntegrityError("duplicate key"))
    assert not is_transient(duplicate)
    assert not is_transient(ValueError("a bug"))


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 0.1, 1.0) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_backoff_stays_at_the_cap_however_long_the_outage() -> None:
    """A settle retried every 5 s makes its 1,100th attempt after an hour and a half."""
    assert [backoff_delay(n, 0.1, 5.0) for n in (1_100, 10**6)] == [5.0, 5.0]


def test_retry_transient_backs_off_then_gives_up_and_never_retries_a_bug() -> None:
    lost = OperationalError("SELECT 1", {}, psycopg2.OperationalError("server closed the connection"))
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise lost
        return "done"

    policy = RetryPolicy(attempts=3, base_delay_s=0.1, max_delay_s=1.0)
    assert retry_transient(flaky, policy, sleeps.append) == "done" and sleeps == [0.1, 0.2]

    def down() -> None:
        raise lost

    with pytest.raises(OperationalError):
        retry_transient(down, policy, sleeps.append)

    def bug() -> None:
        calls.append(1)
        raise ValueError("not the database's fault")

    calls.clear()
    with pytest.raises(ValueError):
        retry_transient(bug, policy, sleeps.append)
    assert len(calls) == 1


def test_the_topic_spec_gives_every_topic_a_dead_letter_twin() -> None:
    spec = load_spec()
    assert spec["shop.orders"].partitions == 8
    assert spec["shop.orders.dlq"].config["retention.ms"] == "2592000000"
    assert all(f"{name}.dlq" in spec for name in spec if not name.endswith(".dlq"))


def test_the_compose_file_runs_every_service_with_known_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for service in ("orders", "warehouse", "routing", "tracking", "returns"):
        assert services[service]["command"] == ["fulfil", "worker", service]
    assert services["kafka"]["image"].startswith("apache/kafka")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "postgres" in services
    known = every_setting()
    environment = services["orders"]["environment"]
    assert {"FULFIL_KAFKA_BOOTSTRAP", "FULFIL_DATABASE_URL"} <= set(environment)
    unknown = [name for service in services.values() for name in service.get("environment", {})
               if name.startswith("FULFIL_") and name not in known]
    assert unknown == [], f"compose sets variables the settings do not read: {unknown}"
    built = [name for name in ("orders", "warehouse") if "profiles" not in services[name]]
    assert built == ["orders", "warehouse"], "a service with a worker must run by default"
    assert services["warehouse"]["environment"]["FULFIL_HTTP_PORT"] == "8080"


def test_the_readme_configuration_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in every_setting() if f"`{name}`" not in readme]
    assert missing == [], f"README's configuration table lacks {missing}"


def test_tail_renders_any_bytes_even_json_nested_past_the_parsers_depth() -> None:
    from types import SimpleNamespace

    from services.common.kafka_io import render
    for raw, shown in ((b"[" * 100_000, "[" * 100_000), (b"\xff\x00", {"base64": "/wA="}), (b'{"a": 1}', {"a": 1})):
        record = SimpleNamespace(topic="t", partition=0, offset=1, timestamp=0, key=None, headers=(), value=raw)
        assert render(record)["value"] == shown
