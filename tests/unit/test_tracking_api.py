"""The tracking API's answers that need no database: probing and flooding."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from services.tracking.api import create_api, shop_of
from services.tracking.settings import TrackingSettings


def client(**settings: object) -> TestClient:
    return TestClient(create_api(None, TrackingSettings(**settings)))  # type: ignore[arg-type]  # never reaches the DB


def test_a_malformed_number_is_404_without_touching_the_database() -> None:
    answer = client().get("/track/..%20x")
    assert answer.status_code == 404 and answer.json() == {"detail": "no shipment has this tracking number"}


def test_a_client_past_its_burst_gets_429_with_retry_after() -> None:
    api = client(tracking_rate_per_s=0.5, tracking_rate_burst=3)
    codes = [api.get("/track/x").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    assert api.get("/track/x").headers["retry-after"] == "2"


def test_shop_keys_are_matched_by_their_hash() -> None:
    keys = {"acme": hashlib.sha256(b"k-acme").hexdigest(), "rival": hashlib.sha256(b"k-rival").hexdigest()}
    assert shop_of("k-acme", keys) == "acme" and shop_of("k-rival", keys) == "rival"
    assert shop_of("k-nobody", keys) is None


def test_the_order_view_wants_a_key() -> None:
    answer = client().get("/orders/o-1")
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
