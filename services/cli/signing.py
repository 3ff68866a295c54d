"""`fulfil signing-key add|list|revoke`: the Ed25519 keys shops sign their events with (schemas/signing.py).
Fulfil keeps only public keys, one copy in each service that reads a shop's topic."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.common.commands import echo_keys, fail, in_transaction

if TYPE_CHECKING:
    from schemas.signing import Signer
    from services.common.settings import Settings

commands = typer.Typer()
signing_key = typer.Typer(help="Shops' signing keys: every event on shop.orders and shop.returns must be signed "
                               "by a live key of its shop.", no_args_is_help=True)
commands.add_typer(signing_key, name="signing-key")
SHOP_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


def enrol(settings: Settings, shop: str) -> Signer:
    """A new key pair for a shop, its public half registered in every keyring: what the demo, the fault suite,
    the benchmarks and the tests sign with, as a shop would with the key `fulfil signing-key add` gives it."""
    return enrol_many(settings, [shop])[shop]


def enrol_many(settings: Settings, shops: Iterable[str]) -> dict[str, Signer]:
    """`enrol` for many shops in one transaction."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from schemas.signing import Signer
    from services import catalog
    from services.common.signing_keys import register
    signers = {shop: Signer.generate() for shop in dict.fromkeys(shops)}
    now = datetime.now(UTC)
    for service, ring in catalog.keyrings().items():
        engine = create_engine(settings.database_url_for(service))
        try:
            with engine.begin() as connection:
                session = Session(bind=connection)
                for shop, signer in signers.items():
                    register(session, [ring], shop, signer.public_key, now)
        finally:
            engine.dispose()
    return signers


@signing_key.command("add")
def add(
    shop: Annotated[str, typer.Argument(help="the shop id the key signs for")],
    out: Annotated[Path | None, typer.Option(help="Make a new key pair and write its private key here "
                                                  "(PEM, owner-only); give the file to the shop")] = None,
    public_key: Annotated[Path | None, typer.Option(help="Register the shop's own public key (PEM): its private "
                                                         "key never leaves the shop")] = None,
) -> None:
    """Register a signing key for a shop; it works at once. Prints the key's id."""
    from schemas.signing import Signer, public_from_pem
    from services import catalog
    from services.common.signing_keys import KeyConflict, register
    if not re.fullmatch(SHOP_ID, shop):
        raise fail(f"shop id must be letters, digits, '.', '_' or '-' (at most 64), got {shop!r}")
    if (out is None) == (public_key is None):
        raise fail("give exactly one of --out FILE (make a key pair) or --public-key FILE (the shop's own)")
    signer = None
    if public_key is not None:
        try:
            public = public_from_pem(public_key.read_bytes())
        except OSError as exc:
            raise fail(f"cannot read {public_key}: {exc.strerror}") from None
        except ValueError as exc:
            raise fail(f"{public_key}: {exc}") from None
    else:
        assert out is not None
        if out.exists():
            raise fail(f"{out} exists; a private key is never overwritten")
        signer = Signer.generate()
        public = signer.public_key
    try:
        now = datetime.now(UTC)
        kids = {in_transaction(partial(register, keyrings=[ring], shop_id=shop, public_key=public, now=now), service)
                for service, ring in catalog.keyrings().items()}
        (kid,) = kids
    except KeyConflict as exc:
        raise fail(str(exc)) from None
    if signer is not None and out is not None:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(signer.pem())
        typer.echo(f"private key for {shop} written to {out} (owner-only; Fulfil keeps only the public key)",
                   err=True)
    typer.echo(kid)


@signing_key.command("list")
def listed() -> None:
    """Every signing key: its id, its shop, when it was made and, if so, revoked."""
    from services import catalog
    service, ring = next(iter(catalog.keyrings().items()))  # every keyring holds the same keys
    echo_keys(in_transaction(ring.listed, service), 24,
              "no signing keys yet: fulfil signing-key add SHOP --out FILE")


@signing_key.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id, as `fulfil signing-key list` shows it")]) -> None:
    """The key signs nothing from the next batch on, in every service."""
    from services import catalog
    now = datetime.now(UTC)
    revoked = [in_transaction(partial(ring.revoke, kid=key_id, now=now), service)
               for service, ring in catalog.keyrings().items()]
    if not any(revoked):
        raise fail(f"no live signing key {key_id!r}; `fulfil signing-key list` shows them")
    typer.echo(f"revoked {key_id}")
