"""Each shop is its own Kafka principal that may write only its input topics: the services run against a broker
with SASL/SCRAM and ACLs on, a shop's order goes through, and the same shop cannot write warehouse scans."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from services.common.embedded import EmbeddedPostgres
from services.common.kafka_io import Outgoing, send_all
from services.common.settings import Settings
from services.common.topics import apply_spec, load_spec
from services.migrations import upgrade
from tests.factories import order_placed, scan, to_bytes
from tests.integration.conftest import BROKER, Stack, _two_free_ports, values

pytestmark = pytest.mark.integration

USERS = {"admin": "admin-secret", "fulfil": "fulfil-secret", "shop-acme": "acme-secret"}


def login(user: str, **settings: object) -> dict[str, object]:
    return {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": user, "kafka_sasl_password": USERS[user], **settings}


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[int]:
    port = _two_free_ports()
    env = {**os.environ, "BROKER_USERS": " ".join(f"{u}:{p}" for u, p in USERS.items())}
    started = subprocess.run([str(BROKER), "start-secure", str(port)], capture_output=True, text=True, timeout=300,
                             env=env)
    if started.returncode != 0:
        pytest.fail(f"the secure broker did not start:\n{started.stdout}\n{started.stderr}", pytrace=False)
    try:
        yield port
    finally:
        subprocess.run([str(BROKER), "destroy", str(port)], capture_output=True, timeout=120)


def acl(port: int, *args: str) -> None:
    done = subprocess.run([str(BROKER), "acl", str(port), "--add", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_shop_principal_writes_its_orders_and_cannot_write_warehouse_scans(
        secure_broker: int, postgres: EmbeddedPostgres, tmp_path: Path) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}."
    bootstrap = f"127.0.0.1:{secure_broker}"
    # what README's "Shops as Kafka principals" sets up: the services own everything under their namespace...
    acl(secure_broker, "--allow-principal", "User:fulfil", "--operation", "All", "--resource-pattern-type",
        "prefixed", "--topic", namespace, "--group", namespace)
    # ...and a shop may only write (and see) its own input topics
    for topic in ("shop.orders", "shop.returns"):
        acl(secure_broker, "--allow-principal", "User:shop-acme", "--operation", "Write", "--operation", "Describe",
            "--topic", namespace + topic)

    database = namespace.rstrip(".")
    postgres.create_database(database)
    service = Settings(**login("fulfil", kafka_bootstrap=bootstrap, database_url=postgres.url(database),
                               topic_namespace=namespace))
    upgrade(service)
    asyncio.run(apply_spec(service, load_spec()))
    env = {"FULFIL_KAFKA_BOOTSTRAP": bootstrap, "FULFIL_DATABASE_URL": service.database_url,
           "FULFIL_TOPIC_NAMESPACE": namespace, "FULFIL_LOG_FORMAT": "json",
           "FULFIL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "FULFIL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "FULFIL_KAFKA_SASL_USERNAME": "fulfil", "FULFIL_KAFKA_SASL_PASSWORD": USERS["fulfil"]}
    (tmp_path / "logs").mkdir()
    stack = Stack(settings=service, env=env, logs=tmp_path / "logs")
    shop = Settings(**login("shop-acme", kafka_bootstrap=bootstrap, topic_namespace=namespace))
    try:
        stack.start_worker("orders")
        asyncio.run(send_all(shop, shop.topic("shop.orders"),
                             [Outgoing(b"A-1", to_bytes(order_placed("A-1", shop_id="acme")))]))
        accepted = stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) == 1, timeout_s=90)
        assert values(accepted, "order.accepted")[0]["payload"]["order_id"] == "A-1"

        forged = scan("stock.received", "WH-1", sku="SKU-RED", quantity=1000)
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(send_all(shop, shop.topic("warehouse.scans"), [Outgoing(b"WH-1", to_bytes(forged))]))
    finally:
        stack.stop_workers()


@pytest.mark.parametrize("listener", ["clients", "controller"])
def test_every_listener_needs_a_login(secure_broker: int, listener: str) -> None:
    """Nobody is let in anonymously, on the clients' port nor the controller's (an anonymous CreateAcls on the
    controller port once made any shop a super user)."""
    port = secure_broker + (1 if listener == "controller" else 0)
    anonymous = Settings(kafka_bootstrap=f"127.0.0.1:{port}")
    with pytest.raises(Exception):  # noqa: B017 (refused in whatever way the client reports it)
        asyncio.run(asyncio.wait_for(send_all(anonymous, "shop.orders", [Outgoing(b"k", b"{}")]), 30))
    config = subprocess.run([str(BROKER), "dir", str(secure_broker)], capture_output=True, text=True, check=True)
    properties = (Path(config.stdout.strip()) / "server.properties").read_text()
    assert "super.users=User:admin\n" in properties and "ANONYMOUS" not in properties


def test_no_password_is_on_any_command_line(secure_broker: int) -> None:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes()
        except OSError:
            continue
        for password in USERS.values():
            assert password.encode() not in arguments, f"{cmdline} holds a password"
