"""What one HTTP client may cost a server: a request's head is bounded in bytes and in headers, must arrive within a
few seconds (a connection that sends nothing, or trickles, is closed), an idle keep-alive connection is closed, and
the connections a server holds are capped. uvicorn (on httptools, the fast parser the APIs are polled through)
bounds none of the first three: a 1 MiB header, 10,000 headers or 500 silent connections were all accepted.

Each refusal is the precise status (431, 414, 408), then the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
"""The request line and headers together; browsers send 1-4 KiB, servers allow 8-64 KiB."""
MAX_HEADERS = 100
MAX_URL_BYTES = 8 * 1024
HEAD_TIMEOUT_S = 10.0
"""How long a connection may take to send a whole request head: the first one, and each one after it."""
KEEP_ALIVE_S = 5
"""An idle keep-alive connection is closed after this long (uvicorn's own timer)."""


class Refused(Exception):
    """Stops the parser; the protocol answers with the status the refusal names."""


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; plugged in through uvicorn's `http` setting."""

    head_timeout_s = HEAD_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._header_count = 0
        self._refusal: tuple[bytes, str] | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:  # before the parser buffers any more of it
                self._refuse(b"431 Request Header Fields Too Large",
                             f"the request head exceeds {MAX_HEAD_BYTES} bytes")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._header_count = True, 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refusal = (b"414 URI Too Long", f"the URL exceeds {MAX_URL_BYTES} bytes")
            raise Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refusal = (b"431 Request Header Fields Too Large", f"more than {MAX_HEADERS} headers")
            raise Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # whatever comes next on this connection is a new head

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to anything the parser refused; ours when it was one of our limits."""
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._refuse(*self._refusal)

    def _refuse(self, status: bytes, why: str) -> None:
        self._stop_head_timer()
        if self.transport.is_closing():
            return
        body = why.encode()
        self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        self.transport.close()

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(b"408 Request Timeout", f"no complete request head within {self.head_timeout_s:g} s")
