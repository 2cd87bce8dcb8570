"""Limits that protect the server from its clients: request body size and login attempts.

**Body size.** A photo upload larger than ``api.max_upload_mb`` is refused with 413 before
it is read: at once when ``Content-Length`` says so, otherwise (chunked uploads, or a lying
header) as soon as the bytes received pass the limit, while streaming. Nothing past the limit
is buffered. This is an ASGI middleware so that it applies before any endpoint or form
parser touches the body. The reply deliberately does not say ``Connection: close``: closing
a socket with unread upload data makes the kernel reset the connection, and the client would
lose the 413 itself. The server instead discards the rest of the upload as it arrives
(uvicorn drops the body data of a finished exchange) until its keep-alive timeout.

**Login attempts.** At most ``login_max_failures`` failed logins per username and per client
address within ``login_window_seconds``; then 429 with ``Retry-After`` until the oldest
failure leaves the window. The counters are kept in memory: right for the single-machine
mode (one process); they reset on restart, and several API processes would each count on
their own (a shared store such as the database or Redis would be needed there).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper.api.problems import MEDIA_TYPE


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: answer 413 (problem+json) to a request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, f"the request body has {declared:,} bytes")
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app answers to the interrupted body, 413 replaces it
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send, f"the request body passed {self.max_bytes:,} bytes")

    async def _refuse(self, send: Send, what: str) -> None:
        limit_mb = self.max_bytes // (1024 * 1024)
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"{what}; the most allowed is {limit_mb} MB (api.max_upload_mb)",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class LoginLimiter:
    """Sliding-window counter of failed logins per key (``user:<name>``, ``ip:<address>``)."""

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Seconds until any of ``keys`` may try again; 0 when all may try now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._expire(key, now)
                if len(times) >= self.max_failures:
                    wait = max(wait, times[0] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._expire(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        """A good password clears the username's count (not the address's)."""
        with self._lock:
            self._failures.pop(key, None)

    def _expire(self, key: str, now: float) -> deque[float]:
        """Drop failures older than the window; forget keys with none left (bounded memory)."""
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times
