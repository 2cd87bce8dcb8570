"""JSON that is safe even where a client mishandles it.

Names and reasons come from people and may hold ``<script>`` or SQL. They are stored and
returned verbatim (the data must not change), but ``<``, ``>`` and ``&`` are written as
``\\u003c``, ``\\u003e`` and ``\\u0026``: the same JSON value to any parser, and inert if a
response is ever rendered as HTML by a careless client or a sniffing browser. Every response
also carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def dumps(content: Any) -> bytes:
    # The three characters can only occur inside JSON strings, so replacing them is exact.
    text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.translate(_ESCAPES).encode("utf-8")


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)


class NoSniff:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every response, so a browser
    never second-guesses a JSON or image response into HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_header)
