"""Each shop is its own Kafka principal that may write only its input topics, and acts only in its own name: the
services run against a broker with SASL/SCRAM and ACLs on, a shop's order goes through, the same shop cannot write
warehouse scans, and nothing it writes with its credentials and its key is taken as another shop's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from services.common.embedded import EmbeddedPostgres, free_ports
from services.common.kafka_io import Outgoing, send_all
from services.common.settings import Settings
from services.common.topics import apply_spec, load_spec
from services.migrations import upgrade
from tests.factories import cancellation, order_placed, return_requested, scan, to_bytes
from tests.integration.conftest import BROKER, Stack, values

pytestmark = pytest.mark.integration

USERS = {"admin": "admin-secret", "fulfil": "fulfil-secret", "shop-acme": "acme-secret",
         "shop-globex": "globex-secret"}


def login(user: str, **settings: Any) -> dict[str, Any]:
    return {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": user, "kafka_sasl_password": USERS[user], **settings}


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[int]:
    port = free_ports(2)
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


@pytest.fixture
def secured(secure_broker: int, postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[tuple[Stack, str]]:
    """The README's ACLs for the services and for acme and globex; a stack logged in as the services."""
    namespace = f"t{uuid.uuid4().hex[:10]}."
    bootstrap = f"127.0.0.1:{secure_broker}"
    acl(secure_broker, "--allow-principal", "User:fulfil", "--operation", "All", "--resource-pattern-type",
        "prefixed", "--topic", namespace, "--group", namespace)
    for user in ("shop-acme", "shop-globex"):
        for topic in ("shop.orders", "shop.returns"):
            acl(secure_broker, "--allow-principal", f"User:{user}", "--operation", "Write", "--operation",
                "Describe", "--topic", namespace + topic)
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
    try:
        yield stack, namespace
    finally:
        stack.stop_workers()


def as_shop(stack: Stack, user: str, topic: str, records: list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]
            ) -> None:
    """Publish logged in as a shop's principal, each record with the headers given."""
    shop = Settings(**login(user, kafka_bootstrap=stack.settings.kafka_bootstrap,
                            topic_namespace=stack.settings.topic_namespace))
    asyncio.run(send_all(shop, shop.topic(topic), [Outgoing(key, value, headers) for key, value, headers in records]))


def test_a_shops_credentials_and_key_get_nothing_done_in_another_shops_name(secured: tuple[Stack, str]) -> None:
    """acme, logged in as itself and holding its own signing key, tries every way to act for globex: an order, a
    cancellation of globex's real order and a return request in globex's name, each signed with acme's key;
    globex's genuine record with its value altered; globex's genuine record sent again verbatim."""
    stack, _ = secured
    stack.start_worker("orders")
    stack.start_worker("returns")
    acme, globex = stack.signer("acme"), stack.signer("globex")
    genuine = to_bytes(order_placed("G-1", shop_id="globex"))
    as_shop(stack, "shop-globex", "shop.orders", [(b"globex/G-1", genuine, globex.headers("shop.orders", genuine))])
    stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) == 1, timeout_s=90)

    forged_order = to_bytes(order_placed("G-2", shop_id="globex"))
    forged_cancel = to_bytes(cancellation("G-1", shop_id="globex"))
    altered = genuine.replace(b"Veldstraat 1", b"Kouter 99")
    as_shop(stack, "shop-acme", "shop.orders", [
        (b"globex/G-2", forged_order, acme.headers("shop.orders", forged_order)),
        (b"globex/G-1", forged_cancel, acme.headers("shop.orders", forged_cancel)),
        (b"globex/G-1", altered, globex.headers("shop.orders", genuine)),
        (b"globex/G-1", genuine, globex.headers("shop.orders", genuine))])
    forged_return = to_bytes(return_requested("G-1", "R-1", shop_id="globex"))
    as_shop(stack, "shop-acme", "shop.returns",
            [(b"globex/G-1", forged_return, acme.headers("shop.returns", forged_return))])

    stack.read("shop.orders.dlq", lambda rs: len(rs) == 3, timeout_s=90, settle_s=3)
    stack.read("shop.returns.dlq", lambda rs: len(rs) == 1, timeout_s=90)
    answers = values(stack.read("orders.events", lambda rs: len(rs) >= 1, settle_s=3))
    assert [(a["event_type"], a["payload"]["order_id"]) for a in answers] == [("order.accepted", "G-1")]
    reasons = sorted(r for (r,) in stack.sql("SELECT reason FROM orders.dead_letters"))
    assert sum("key of shop 'acme'; it may not act for shop 'globex'" in r for r in reasons) == 2
    assert sum("does not match" in r for r in reasons) == 1
    assert "may not act for shop 'globex'" in stack.sql("SELECT reason FROM returns.dead_letters")[0][0]
    assert stack.sql("SELECT status FROM orders.orders") == [("accepted",)]
    assert stack.sql("SELECT count(*) FROM returns.returns") == [(0,)]


def test_a_shop_principal_writes_its_orders_and_cannot_write_warehouse_scans(secured: tuple[Stack, str]) -> None:
    stack, _ = secured
    stack.start_worker("orders")
    placed = to_bytes(order_placed("A-1", shop_id="acme"))
    as_shop(stack, "shop-acme", "shop.orders", [(b"acme/A-1", placed, stack.signer("acme").headers("shop.orders", placed))])
    accepted = stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) == 1, timeout_s=90)
    assert values(accepted, "order.accepted")[0]["payload"]["order_id"] == "A-1"

    forged = to_bytes(scan("stock.received", "WH-1", sku="SKU-RED", quantity=1000))
    with pytest.raises(TopicAuthorizationFailedError):
        as_shop(stack, "shop-acme", "warehouse.scans", [(b"WH-1", forged, ())])


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
