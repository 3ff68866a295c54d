"""Bearer keys that open a service's HTTP pages to one owner (a shop's order view, a warehouse's staff pages): only a
hash is kept, in the service's own schema, so keys are added and revoked while the API runs and a revoked key stops
working at the next request. Each service declares its table (`AccessKeys(metadata, "device_keys", "warehouse_id")`)
and its `fulfil` command group (services/common/commands.py `key_commands`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, MetaData, Table, Text, select, update
from sqlalchemy.orm import Session


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class AccessKey:
    key_id: str
    owner: str
    """A shop, or a warehouse."""
    created_at: datetime
    revoked_at: datetime | None


class AccessKeys:
    """One service schema's key table: `owner` is the column naming whom a key opens the pages for."""

    def __init__(self, metadata: MetaData, name: str, owner: str, prefix: str) -> None:
        self.owner, self.prefix = owner, prefix
        self.table = Table(
            name, metadata,
            Column("key_id", Text, primary_key=True, doc=f"{prefix}- and the first 10 hex digits of the hash"),
            Column(owner, Text, nullable=False),
            Column("key_hash", Text, nullable=False, unique=True, doc="sha256 hex of the key; the key is never kept"),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("revoked_at", DateTime(timezone=True)),
        )

    def add(self, session: Session, owner: str, now: datetime) -> tuple[str, str]:
        """A new key; returns (key_id, the key). The key is shown once and never stored."""
        key = secrets.token_urlsafe(32)
        hashed = digest(key)
        key_id = f"{self.prefix}-{hashed[:10]}"
        session.execute(self.table.insert().values(key_id=key_id, key_hash=hashed, created_at=now,
                                                   **{self.owner: owner}))
        return key_id, key

    def listed(self, session: Session) -> list[AccessKey]:
        k = self.table.c
        return [AccessKey(r[0], r[1], r[2], r[3])
                for r in session.execute(select(k.key_id, k[self.owner], k.created_at, k.revoked_at)
                                         .order_by(k[self.owner], k.created_at))]

    def revoke(self, session: Session, key_id: str, now: datetime) -> bool:
        """False when no live key has this id."""
        k = self.table.c
        done = session.execute(update(self.table).where(k.key_id == key_id, k.revoked_at.is_(None))
                               .values(revoked_at=now).returning(k.key_id)).first()
        return done is not None

    def owner_of(self, session: Session, key: str) -> tuple[str, str] | None:
        """(key_id, owner) of a live key: one look-up by the key's hash (an index), whatever the key."""
        k = self.table.c
        row = session.execute(select(k.key_id, k[self.owner]).where(k.key_hash == digest(key),
                                                                    k.revoked_at.is_(None))).first()
        return (row[0], row[1]) if row else None
