"""`fulfil signing-key` and `fulfil send --sign` as an operator and a shop use them: a key made or brought, listed,
revoked at once in every service that reads a shop's topic."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from schemas.signing import Signer, public_pem
from tests.factories import order_placed, return_requested
from tests.integration.conftest import Stack, values
from tests.integration.test_operator_commands import fulfil

pytestmark = pytest.mark.integration


def test_a_key_is_made_or_brought_listed_and_revoked_in_every_service(stack: Stack, tmp_path: Path) -> None:
    private = tmp_path / "acme.pem"
    made = fulfil(stack.env, "signing-key", "add", "acme", "--out", str(private))
    assert made.returncode == 0, made.stderr
    kid = made.stdout.strip()
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and Signer.from_pem(private.read_bytes()).key_id == kid
    again = fulfil(stack.env, "signing-key", "add", "acme", "--out", str(private))
    assert again.returncode == 2 and "never overwritten" in again.stderr

    own = Signer.generate()  # a shop that keeps its private key to itself sends only the public half
    (tmp_path / "globex.pub").write_bytes(public_pem(own.public_key))
    brought = fulfil(stack.env, "signing-key", "add", "globex", "--public-key", str(tmp_path / "globex.pub"))
    assert brought.returncode == 0 and brought.stdout.strip() == own.key_id, brought.stderr
    stolen = fulfil(stack.env, "signing-key", "add", "acme", "--public-key", str(tmp_path / "globex.pub"))
    assert stolen.returncode == 2 and "registered for shop 'globex'" in stolen.stderr
    neither = fulfil(stack.env, "signing-key", "add", "acme")
    assert neither.returncode == 2 and "exactly one of --out" in neither.stderr

    for schema in ("orders", "returns"):
        assert stack.sql(f"SELECT shop_id FROM {schema}.signing_keys ORDER BY shop_id") == [("acme",), ("globex",)]
    listed = fulfil(stack.env, "signing-key", "list")
    assert kid in listed.stdout and own.key_id in listed.stdout and "live" in listed.stdout

    stack.start_worker("orders")
    order = tmp_path / "order.json"
    order.write_text(json.dumps(order_placed("A-1")))
    assert fulfil(stack.env, "send", "shop.orders", str(order), "--sign", str(private)).returncode == 0
    stack.read("orders.events", lambda rs: len(values(rs, "order.accepted")) == 1)

    revoked = fulfil(stack.env, "signing-key", "revoke", kid)
    assert revoked.returncode == 0 and f"revoked {kid}" in revoked.stdout
    assert stack.sql(f"SELECT count(*) FROM returns.signing_keys WHERE key_id = '{kid}' AND revoked_at IS NOT NULL"
                     ) == [(1,)]
    order.write_text(json.dumps(order_placed("A-2")))
    assert fulfil(stack.env, "send", "shop.orders", str(order), "--sign", str(private)).returncode == 0
    (dead,) = values(stack.read("shop.orders.dlq", lambda rs: len(rs) == 1))
    assert dead["payload"]["order_id"] == "A-2"
    assert "not a live signing key" in stack.sql("SELECT reason FROM orders.dead_letters")[0][0]
    twice = fulfil(stack.env, "signing-key", "revoke", kid)
    assert twice.returncode == 2 and "no live signing key" in twice.stderr


def test_the_returns_service_takes_only_signed_return_requests_too(stack: Stack) -> None:
    """shop.returns is a shop's topic as much as shop.orders: the check is the processor's, whichever service."""
    stack.start_worker("returns")
    acme = stack.signer("acme")
    stack.send("shop.returns", [return_requested("A-9", "R-9")], signed=False)
    stack.signers["globex"] = acme  # acme's key on an event that acts for globex
    stack.send("shop.returns", [return_requested("A-9", "R-10", shop_id="globex")])
    stack.read("shop.returns.dlq", lambda rs: len(rs) == 2, settle_s=2)
    reasons = sorted(r for (r,) in stack.sql("SELECT reason FROM returns.dead_letters"))
    assert reasons[0].startswith("not signed") and "key of shop 'acme'; it may not act for shop 'globex'" in reasons[1]
    assert stack.sql("SELECT count(*) FROM returns.inbox") == [(0,)]
