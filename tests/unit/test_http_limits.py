"""What one HTTP client may cost an API, with raw sockets against uvicorn as every API runs it (server_options):
an oversized or overlong head is refused with its status, a silent or trickling connection is closed, an idle
keep-alive connection is closed, connections are capped, and a plain request still works."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI

from services.common.embedded import free_port, wait_for_port
from services.common.http import server_options
from services.common.http_limits import KEEP_ALIVE_S, MAX_HEAD_BYTES, LimitedProtocol
from services.common.settings import Settings

HEAD_TIMEOUT_S = 1.0
CAP = 8


class Quick(LimitedProtocol):
    head_timeout_s = HEAD_TIMEOUT_S


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    api = FastAPI()

    @api.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    chosen = free_port()
    options = {**server_options(Settings(http_max_connections=CAP)), "http": Quick}
    server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=chosen, lifespan="off", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(chosen, 10)
    yield chosen
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def answer(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    chunks = []
    try:
        while chunk := s.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else 0


def test_a_plain_request_is_served(port: int) -> None:
    with connect(port) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status(answer(s)) == 200


def refusal(port: int, head: bytes) -> bytes:
    """What the server answers to `head`, b"reset" when the kernel reset the connection (a server that closes with
    a client's bytes unread does that, and the answer may be lost); fails when the server just keeps waiting."""
    with connect(port) as s:
        s.settimeout(5)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(head)
        try:
            return b"".join(iter(lambda: s.recv(65536), b""))
        except ConnectionResetError:
            return b"reset"
        except TimeoutError:
            raise AssertionError("the server kept waiting on an oversized head") from None


@pytest.mark.parametrize(("head", "expected"), [
    (b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
])
def test_an_oversized_head_is_refused_with_its_status(port: int, head: bytes, expected: int) -> None:
    raw = refusal(port, head)
    assert status(raw) == expected, raw[:200]


@pytest.mark.parametrize("head", [
    b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
    b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(10_000)) + b"\r\n",
    b"GET /ping HTTP/1.1\r\nX-Endless: " + b"a" * (2 * MAX_HEAD_BYTES),
], ids=["1 MiB header", "10,000 headers", "unterminated"])
def test_a_head_past_the_byte_limit_is_cut_off_there(port: int, head: bytes) -> None:
    """Refused once the limit is passed, not buffered on (the 431 is lost when the kernel resets)."""
    raw = refusal(port, head)
    assert raw == b"reset" or status(raw) == 431, raw[:200]


def test_a_silent_connection_is_closed(port: int) -> None:
    started = time.monotonic()
    with connect(port) as s:
        raw = answer(s)
    assert status(raw) == 408 and time.monotonic() - started < HEAD_TIMEOUT_S + 3


def test_a_trickling_head_is_closed(port: int) -> None:
    started = time.monotonic()
    with connect(port) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(40):
                s.sendall(b"X")
                time.sleep(0.1)
        raw = answer(s)
    assert status(raw) == 408 and time.monotonic() - started < HEAD_TIMEOUT_S + 5


def test_an_idle_keep_alive_connection_is_closed(port: int) -> None:
    with connect(port) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert status(first) == 200
        started = time.monotonic()
        assert answer(s) == b"" and KEEP_ALIVE_S - 1 < time.monotonic() - started < KEEP_ALIVE_S + 3


def test_connections_are_capped(port: int) -> None:
    held = [connect(port) for _ in range(CAP)]
    try:
        time.sleep(0.2)
        with connect(port) as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert status(answer(s)) == 503
    finally:
        for s in held:
            s.close()
