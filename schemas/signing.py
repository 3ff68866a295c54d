"""How a shop signs what it publishes, so that only it can act in its name.

Kafka's principal never reaches a consumer, and every field of an event is written by its sender, so a shop's
identity cannot come from the event. It comes from a signature: each shop holds an Ed25519 private key and
Fulfil holds only the public half (`fulfil signing-key add`). Every record on a shop's topics (shop.orders,
shop.returns) carries two headers:

- `fulfil.signer`: the key's id, `sk-` and the first 20 hex digits of the SHA-256 of the raw public key;
- `fulfil.signature`: base64 of the Ed25519 signature of `fulfil.v1`, NUL, the topic's name, NUL and the
  record's value, byte for byte.

The topic is signed so an event signed for one topic is worthless on another; the value is signed as sent,
so no JSON canonical form is needed. A shop signs with this module or with any Ed25519 library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNER_HEADER = "fulfil.signer"
SIGNATURE_HEADER = "fulfil.signature"
DOMAIN = b"fulfil.v1"


def signed_bytes(topic: str, value: bytes) -> bytes:
    return DOMAIN + b"\x00" + topic.encode() + b"\x00" + value


def key_id(public_key: bytes) -> str:
    """A public key's id: derived from the key, so a shop and Fulfil name it alike without agreeing first."""
    return "sk-" + hashlib.sha256(public_key).hexdigest()[:20]


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Signer:
    """A shop's private key, signing the records it publishes."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        """A PEM (PKCS#8) Ed25519 private key, or ValueError with a sentence."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"the key is {type(key).__name__.removeprefix('_')}, not Ed25519")
        return cls(key)

    def pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    @property
    def public_key(self) -> bytes:
        return raw_public(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def headers(self, topic: str, value: bytes) -> tuple[tuple[str, bytes], ...]:
        """The two headers a record of `value` on `topic` travels with."""
        signature = self.private_key.sign(signed_bytes(topic, value))
        return ((SIGNER_HEADER, self.key_id.encode()), (SIGNATURE_HEADER, base64.b64encode(signature)))


def public_from_pem(pem: bytes) -> bytes:
    """The raw 32 bytes of a PEM (SubjectPublicKeyInfo) Ed25519 public key, or ValueError with a sentence."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the key is {type(key).__name__.removeprefix('_')}, not Ed25519")
    return raw_public(key)


def public_pem(public_key: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(public_key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def claimed_signer(headers: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]]) -> tuple[str, bytes] | None:
    """(key id, signature) as the record's headers give them, or None when either is missing or repeated (a
    repeated header would let a reader and the checker see different signers)."""
    signer = [v for k, v in headers if k == SIGNER_HEADER]
    signature = [v for k, v in headers if k == SIGNATURE_HEADER]
    if len(signer) != 1 or len(signature) != 1:
        return None
    try:
        return signer[0].decode("ascii"), base64.b64decode(signature[0], validate=True)
    except (UnicodeDecodeError, binascii.Error):
        return None


def verifies(public_key: bytes, topic: str, value: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signed_bytes(topic, value))
    except (InvalidSignature, ValueError):
        return False
    return True
