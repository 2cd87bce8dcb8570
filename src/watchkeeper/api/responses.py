"""JSON that is safe even where a client mishandles it.

Names and reasons come from people and may hold ``<script>`` or SQL. They are stored and
returned verbatim (the data must not change), but ``<``, ``>`` and ``&`` are written as
``\\u003c``, ``\\u003e`` and ``\\u0026``: the same JSON value to any parser, and inert if a
response is ever rendered as HTML by a careless client or a sniffing browser. Every response
also carries ``X-Content-Type-Options: nosniff`` and the other security headers
(:class:`SecurityHeaders`).
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


# Scripts, styles, images and calls from this origin only: an injected <script> or a
# redirected fetch goes nowhere. Inline styles are allowed (the transparency report carries
# its stylesheet inline); inline scripts are not (the console has none). data: images are the
# report's embedded charts, blob: the console's photo previews.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# The API docs page (api.docs, off by default) loads Swagger UI from its CDN.
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {DOCS_CDN}; "
    f"style-src 'self' 'unsafe-inline' {DOCS_CDN}; img-src 'self' data: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


class SecurityHeaders:
    """ASGI middleware: the browser-side defences on every response.

    ``nosniff`` so that a browser never second-guesses a JSON or image response into HTML; a
    Content-Security-Policy that runs only this origin's scripts; no framing (clickjacking),
    no referrer (URLs hold ids), no access to the camera or microphone of the viewer's machine.
    The console's pages set a stricter policy of their own (``web.console``), which is kept.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope.get("path") == "/docs" else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # a response that set its own (the console's stricter page policy) keeps it
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)
