"""A shop's identity is the key that signed its record: what every forgery, alteration and key mix-up is refused
with, without a database (the keys are given as the keyring would return them)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from schemas.signing import SIGNATURE_HEADER, SIGNER_HEADER, Signer, claimed_signer, public_from_pem, public_pem
from services.common.dead_letters import Incoming
from services.common.signing_keys import SigningKey, refusal

ACME, GLOBEX = Signer.generate(), Signer.generate()
NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEYS = {s.key_id: SigningKey(s.key_id, shop, s.public_key, NOW, None) for s, shop in ((ACME, "acme"),
                                                                                          (GLOBEX, "globex"))}
VALUE = b'{"event_type": "order.placed", "payload": {"shop_id": "acme"}}'


def record(value: bytes, headers: tuple[tuple[str, bytes], ...]) -> Incoming:
    return Incoming("shop.orders", 0, 0, b"acme/A-1", value, headers)


def test_a_record_signed_by_a_live_key_of_its_shop_is_let_through() -> None:
    assert refusal("shop.orders", record(VALUE, ACME.headers("shop.orders", VALUE)), "acme", KEYS) is None


def test_one_shops_key_cannot_act_for_another() -> None:
    why = refusal("shop.orders", record(VALUE, ACME.headers("shop.orders", VALUE)), "globex", KEYS)
    assert why is not None and "key of shop 'acme'" in why and "may not act for shop 'globex'" in why


def test_an_unsigned_record_is_refused_naming_the_headers() -> None:
    why = refusal("shop.orders", record(VALUE, ()), "acme", KEYS)
    assert why is not None and why.startswith("not signed") and SIGNER_HEADER in why and SIGNATURE_HEADER in why


@pytest.mark.parametrize("change", ["value", "topic", "signature"])
def test_a_signature_holds_for_exactly_the_bytes_and_topic_it_was_made_for(change: str) -> None:
    headers = ACME.headers("shop.returns" if change == "topic" else "shop.orders", VALUE)
    value = VALUE.replace(b"A-1", b"A-2") + b" " if change == "value" else VALUE
    if change == "signature":
        signature = bytearray(base64.b64decode(headers[1][1]))
        signature[5] ^= 1
        headers = (headers[0], (SIGNATURE_HEADER, base64.b64encode(bytes(signature))))
    why = refusal("shop.orders", record(value, headers), "acme", KEYS)
    assert why is not None and "does not match" in why


def test_a_revoked_or_unknown_key_signs_nothing() -> None:
    live = {k: v for k, v in KEYS.items() if v.shop_id != "acme"}  # what the keyring returns once acme's is revoked
    why = refusal("shop.orders", record(VALUE, ACME.headers("shop.orders", VALUE)), "acme", live)
    assert why is not None and "not a live signing key" in why


@pytest.mark.parametrize("headers", [
    ((SIGNER_HEADER, b"sk-1"),),
    ((SIGNATURE_HEADER, b"AAAA"),),
    ((SIGNER_HEADER, b"sk-1"), (SIGNATURE_HEADER, b"not base64!")),
    ((SIGNER_HEADER, b"\xff\xfe"), (SIGNATURE_HEADER, b"AAAA")),
])
def test_missing_or_garbled_headers_claim_no_signer(headers: tuple[tuple[str, bytes], ...]) -> None:
    assert claimed_signer(headers) is None


def test_a_second_signer_header_is_refused_rather_than_one_of_them_believed() -> None:
    """A reader and the checker must never see different signers: two of either header is no signature."""
    headers = ACME.headers("shop.orders", VALUE) + GLOBEX.headers("shop.orders", VALUE)[:1]
    assert claimed_signer(headers) is None
    assert refusal("shop.orders", record(VALUE, headers), "acme", KEYS) is not None


def test_keys_round_trip_through_pem_and_a_key_of_another_kind_is_refused_by_name() -> None:
    assert Signer.from_pem(ACME.pem()).key_id == ACME.key_id
    assert public_from_pem(public_pem(ACME.public_key)) == ACME.public_key
    other = ec.generate_private_key(ec.SECP256R1())
    pem = other.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="not Ed25519"):
        public_from_pem(pem)
    with pytest.raises(ValueError, match="not a PEM public key"):
        public_from_pem(b"hello")
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        Signer.from_pem(b"hello")
