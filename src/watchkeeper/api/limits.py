"""Limits that protect the server from its clients: body size, login attempts, request rates.

**Body size.** A photo upload larger than ``api.max_upload_mb`` is refused with 413 before
it is read: at once when ``Content-Length`` says so, otherwise (chunked uploads, or a lying
header) as soon as the bytes received pass the limit, while streaming. Nothing past the limit
is buffered. This is an ASGI middleware so that it applies before any endpoint or form
parser touches the body. The reply deliberately does not say ``Connection: close``: closing
a socket with unread upload data makes the kernel reset the connection, and the client would
lose the 413 itself. The server instead discards the rest of the upload as it arrives
(uvicorn drops the body data of a finished exchange) until its keep-alive timeout.

**Login attempts.** Failures are counted per client address (``ip:<address>``) and per
client and account (``pair:<address>|<username>``), never per account alone: an attacker's
failures must not keep the account's owner out (finding 6 of the 2026-11 attacker test). The
first ``login_max_failures`` failures of a key cost nothing; after that each attempt must
wait 1 s, then 2, 4, 8 … up to ``login_window_seconds`` (429 with ``Retry-After``), so a
guesser is slowed to a crawl while a user who mistyped waits a second. A key is forgotten
``login_window_seconds`` after its wait ends without a new failure. A client with no
failures always gets in with the right password. The same throttle, keyed by account,
guards the current password of ``POST /users/me/password``.

The counters are kept in memory: right for the single-machine mode (one process); they
reset on restart, and several API processes would each count on their own (a shared store
such as the database or Redis would be needed there). Their number is bounded: keys whose
time has passed are swept whenever the table grows past ``MAX_KEYS``.

**Request rates.** :class:`RateLimit` allows a number of requests per key (a user) within a
sliding window, e.g. ``api.camera_tests_per_minute`` live camera tests.
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


class LoginThrottle:
    """Growing delays after failures, per key (``ip:<address>``, ``pair:<address>|<name>``)."""

    MAX_KEYS = 100_000

    def __init__(
        self,
        free_failures: int,
        max_delay_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, last failure)
        self._lock = threading.Lock()

    def delay(self, count: int) -> float:
        """Seconds a key with ``count`` failures waits after its last one."""
        if count < self.free_failures:
            return 0.0
        return min(2.0 ** (count - self.free_failures), self.max_delay_s)

    def retry_after(self, *keys: str) -> int:
        """Seconds until all of ``keys`` may try again; 0 when they may try now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                count, last = self._current(key, now)
                wait = max(wait, last + self.delay(count) - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                count, _ = self._current(key, now)
                self._failures[key] = (count + 1, now)
            if len(self._failures) > self.MAX_KEYS:
                for key in list(self._failures):
                    self._current(key, now)

    def succeeded(self, key: str) -> None:
        """The right password clears that key (the client and account's, not the client's)."""
        with self._lock:
            self._failures.pop(key, None)

    def _current(self, key: str, now: float) -> tuple[int, float]:
        """The key's (count, last failure); forgotten once quiet long enough after its wait."""
        count, last = self._failures.get(key, (0, now))
        if count and now >= last + self.delay(count) + self.max_delay_s:
            del self._failures[key]
            return 0, now
        return count, last


class RateLimit:
    """At most ``limit`` requests per key within ``window_s`` (a sliding window)."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Count one request of ``key`` and return 0, or the seconds to wait (not counted)."""
        now = self._clock()
        with self._lock:
            times = self._times.setdefault(key, deque())
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.limit:
                return max(1, math.ceil(times[0] + self.window_s - now))
            times.append(now)
            if len(self._times) > LoginThrottle.MAX_KEYS:
                self._times = {
                    k: t for k, t in self._times.items() if t and t[-1] > now - self.window_s
                }
            return 0
