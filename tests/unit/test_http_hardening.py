"""Every HTTP API answers a malformed id like an unknown one, never echoes input, logs a 500 with its stack,
and believes forwarded headers only from the proxies it is told to."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.http import harden, proxy_options
from services.common.settings import Settings
from services.returns.api import create_api as returns_api
from services.returns.settings import ReturnsSettings
from services.tracking.api import create_api as tracking_api
from services.tracking.settings import TrackingSettings
from services.warehouse.api import create_api as warehouse_api
from services.warehouse.settings import WarehouseSettings

KEY = "k-acme"
TRACKING = TrackingSettings(tracking_shop_keys={"acme": hashlib.sha256(KEY.encode()).hexdigest()})


class Unreachable:
    """A session factory that must not be called: malformed ids are answered before any database work."""

    def __call__(self) -> Any:
        raise AssertionError("the database was asked about a malformed id")


MALFORMED = ["A%00B", "A%0AB", "x" * 129, "x" * 5000, "%FF%FE", "..%2F..%2Fetc", "A%7FB"]


@pytest.mark.parametrize("path, body", [
    ("/track/{}", {"detail": "no shipment has this tracking number"}),
    ("/returns/{}", {"detail": "no return has this RMA"}),
])
@pytest.mark.parametrize("bad", MALFORMED)
def test_a_malformed_id_is_answered_like_an_unknown_one(path: str, body: dict[str, str], bad: str) -> None:
    api = (tracking_api(Unreachable(), TRACKING) if path.startswith("/track")  # type: ignore[arg-type]
           else returns_api(Unreachable(), ReturnsSettings()))  # type: ignore[arg-type]
    answer = TestClient(api).get(path.format(bad))
    assert (answer.status_code, answer.json()) == (404, body)


@pytest.mark.parametrize("bad", ["A%00B", "x" * 5000, "A%0AB"])
def test_order_and_picklist_ids_with_control_characters_or_too_long_are_404(bad: str) -> None:
    orders = TestClient(tracking_api(Unreachable(), TRACKING))  # type: ignore[arg-type]
    answer = orders.get(f"/orders/{bad}", headers={"Authorization": f"Bearer {KEY}"})
    assert (answer.status_code, answer.json()) == (404, {"detail": "your shop has no order with this id"})
    staff = TestClient(warehouse_api(Unreachable(), WarehouseSettings()))  # type: ignore[arg-type]
    answer = staff.get(f"/warehouses/{bad}/picklists")
    assert (answer.status_code, answer.json()) == (404, {"detail": "no such warehouse"})


def test_invalid_query_input_names_the_field_and_never_echoes_it() -> None:
    staff = TestClient(warehouse_api(Unreachable(), WarehouseSettings()))  # type: ignore[arg-type]
    answer = staff.get("/warehouses/WH-1/picklists?limit=secret-value")
    assert answer.status_code == 422 and "secret-value" not in answer.text and "limit" in answer.text


def test_an_unexpected_error_is_a_500_logged_with_its_stack(capsys: pytest.CaptureFixture[str]) -> None:
    api = harden(FastAPI(), {})

    @api.get("/boom/{x}")
    def boom(x: str) -> None:
        raise RuntimeError("the database said something")

    answer = TestClient(api, raise_server_exceptions=False).get("/boom/1")
    assert answer.status_code == 500 and "database" not in answer.text
    logged = capsys.readouterr()
    assert "http.failed" in logged.out + logged.err and "RuntimeError" in logged.out + logged.err


def test_forwarded_headers_are_believed_from_named_proxies_only() -> None:
    assert proxy_options(Settings()) == {"proxy_headers": False, "forwarded_allow_ips": ""}
    assert proxy_options(Settings(http_trusted_proxies="10.0.0.5")) == {"proxy_headers": True,
                                                                        "forwarded_allow_ips": "10.0.0.5"}


def test_pick_lists_ask_for_the_staff_token_when_one_is_configured() -> None:
    token = "staff-secret"
    guarded = WarehouseSettings(warehouse_staff_token_sha256=hashlib.sha256(token.encode()).hexdigest())
    staff = TestClient(warehouse_api(Unreachable(), guarded))  # type: ignore[arg-type]
    assert staff.get("/warehouses/WH-1/picklists").status_code == 401
    assert staff.get("/warehouses/WH-1/picklists", headers={"Authorization": "Bearer guess"}).status_code == 401
    with pytest.raises(AssertionError, match="database was asked"):  # past the token, it looks the warehouse up
        staff.get("/warehouses/WH-1/picklists", headers={"Authorization": f"Bearer {token}"})
