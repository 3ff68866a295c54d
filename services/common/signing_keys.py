"""The shops' public signing keys, as a service that reads shops' topics keeps them, and the check that every
shop event was signed by a live key of the shop it acts for (schemas/signing.py says how a shop signs).

Each such service keeps its own copy in its own schema (`fulfil signing-key` writes every copy), so it judges
from its own database alone. Keys are read per batch, so a revoked key stops working at the next batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, LargeBinary, MetaData, Table, Text, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from schemas.signing import SIGNATURE_HEADER, SIGNER_HEADER, claimed_signer, key_id, verifies
from services.common.dead_letters import Incoming


class KeyConflict(ValueError):
    """A public key registered for one shop offered again for another."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: str
    shop_id: str
    public_key: bytes
    created_at: datetime
    revoked_at: datetime | None

    @property
    def owner(self) -> str:
        return self.shop_id


class Keyring:
    """One service schema's `signing_keys` table and the statements that use it."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "signing_keys", metadata,
            Column("key_id", Text, primary_key=True),
            Column("shop_id", Text, nullable=False, index=True),
            Column("public_key", LargeBinary, nullable=False, unique=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("revoked_at", DateTime(timezone=True)),
        )

    def add(self, session: Session, shop_id: str, public_key: bytes, now: datetime) -> str:
        """Register a shop's public key; returns its id. Adding the same key for the same shop again changes
        nothing (a partly failed `fulfil signing-key add` can be run again); for another shop it is refused."""
        kid = key_id(public_key)
        c = self.table.c
        session.execute(insert(self.table).values(key_id=kid, shop_id=shop_id, public_key=public_key,
                                                  created_at=now).on_conflict_do_nothing(index_elements=["key_id"]))
        owner = session.execute(select(c.shop_id).where(c.key_id == kid)).scalar_one()
        if owner != shop_id:
            raise KeyConflict(f"key {kid} is registered for shop {owner!r}; a key belongs to one shop")
        return kid

    def listed(self, session: Session) -> list[SigningKey]:
        c = self.table.c
        return [SigningKey(r.key_id, r.shop_id, r.public_key, r.created_at, r.revoked_at)
                for r in session.execute(select(self.table).order_by(c.shop_id, c.created_at))]

    def revoke(self, session: Session, kid: str, now: datetime) -> bool:
        """False when no live key has this id."""
        c = self.table.c
        done = session.execute(update(self.table).where(c.key_id == kid, c.revoked_at.is_(None))
                               .values(revoked_at=now).returning(c.key_id)).first()
        return done is not None

    def live(self, session: Session, kids: Iterable[str]) -> dict[str, SigningKey]:
        """The live keys among these ids: one indexed look-up per batch, whatever the ids."""
        wanted = sorted(set(kids))
        if not wanted:
            return {}
        c = self.table.c
        rows = session.execute(select(self.table).where(c.key_id.in_(wanted), c.revoked_at.is_(None)))
        return {r.key_id: SigningKey(r.key_id, r.shop_id, r.public_key, r.created_at, r.revoked_at) for r in rows}


def signers(messages: Iterable[Incoming]) -> set[str]:
    """The key ids the records name, to read their keys in one look-up; `refusal` checks each signature."""
    return {v.decode("ascii", "replace") for m in messages for k, v in m.headers if k == SIGNER_HEADER}


def refusal(topic: str, message: Incoming, shop_id: str, keys: Mapping[str, SigningKey]) -> str | None:
    """Why a record on a shop's topic may not act for `shop_id`, or None when a live key of that shop signed
    exactly these bytes for this topic."""
    claimed = claimed_signer(message.headers)
    if claimed is None:
        return (f"not signed: a record on {topic} must carry one {SIGNER_HEADER} and one {SIGNATURE_HEADER} "
                f"header (base64), signed with a key of shop {shop_id!r}")
    kid, signature = claimed
    key = keys.get(kid)
    if key is None:
        return f"signer {kid[:40]!r} is not a live signing key (unknown or revoked)"
    if key.shop_id != shop_id:
        return f"signer {kid} is a key of shop {key.shop_id!r}; it may not act for shop {shop_id!r}"
    if not verifies(key.public_key, topic, message.value or b"", signature):
        return f"the signature of {kid} does not match this record on {topic} (altered, or signed for another topic)"
    return None


def register(session: Session, keyrings: Iterable[Keyring], shop_id: str, public_key: bytes, now: datetime) -> str:
    """A shop's public key into every service's keyring, in the caller's transaction; returns its id."""
    ids = {ring.add(session, shop_id, public_key, now) for ring in keyrings}
    (kid,) = ids
    return kid
