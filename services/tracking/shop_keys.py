"""Shops' API keys for the order view: only a hash is kept, in the database, so keys are added and revoked
while the API runs (`fulfil shop-key add|list|revoke`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.tracking import tables


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ShopKey:
    key_id: str
    shop_id: str
    created_at: datetime
    revoked_at: datetime | None


def add(session: Session, shop_id: str, now: datetime) -> tuple[str, str]:
    """A new key for the shop; returns (key_id, the key). The key is shown once and never stored."""
    key = secrets.token_urlsafe(32)
    hashed = digest(key)
    key_id = f"k-{hashed[:10]}"
    session.execute(tables.shop_keys.insert().values(key_id=key_id, shop_id=shop_id, key_hash=hashed,
                                                     created_at=now))
    return key_id, key


def listed(session: Session) -> list[ShopKey]:
    k = tables.shop_keys.c
    return [ShopKey(r.key_id, r.shop_id, r.created_at, r.revoked_at)
            for r in session.execute(select(k.key_id, k.shop_id, k.created_at, k.revoked_at)
                                     .order_by(k.shop_id, k.created_at))]


def revoke(session: Session, key_id: str, now: datetime) -> bool:
    """False when no live key has this id."""
    k = tables.shop_keys.c
    done = session.execute(update(tables.shop_keys).where(k.key_id == key_id, k.revoked_at.is_(None))
                           .values(revoked_at=now).returning(k.key_id)).first()
    return done is not None


def shop_for(session: Session, key: str) -> str | None:
    """The shop a live key belongs to: one look-up by the key's hash (an index), whatever the key."""
    k = tables.shop_keys.c
    return session.execute(select(k.shop_id).where(k.key_hash == digest(key), k.revoked_at.is_(None))).scalar()
