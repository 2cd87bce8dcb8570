"""A webhook receiver written as the docs ask of one (docs/notifications.md): it checks each
signature and processes each Idempotency-Key once, whatever the sender repeats."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from support.camera_servers import free_port

SECRET = "webhook-secret-0123456789"


@dataclass
class WebhookReceiver:
    """Answers 401 to a bad signature, 200 to a delivery it processed or had processed.

    With ``fail_first`` it answers 500 to the first delivery of every key *after* having
    processed it: the sender cannot tell, and must send again (a lost acknowledgement).
    """

    port: int = field(default_factory=free_port)
    fail_first: bool = False
    secret: str = SECRET
    requests: list[tuple[str, bool]] = field(default_factory=list)  # (key, signature ok)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def bad_signatures(self) -> int:
        return sum(not signed for _, signed in self.requests)

    def alert_ids(self) -> Counter[int]:
        """How often each alert was processed (must be once)."""
        return Counter(int(body["alert"]["id"]) for body in list(self.processed.values()))

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed_part = self.headers["X-Watchkeeper-Timestamp"].encode() + b"." + body
                mac = hmac.new(receiver.secret.encode(), signed_part, hashlib.sha256)
                signed = hmac.compare_digest(
                    f"sha256={mac.hexdigest()}", self.headers["X-Watchkeeper-Signature"]
                )
                key = self.headers["Idempotency-Key"]
                receiver.requests.append((key, signed))
                first = key not in receiver.processed
                if signed and first:
                    receiver.processed[key] = json.loads(body)
                if not signed:
                    self.send_response(401)
                else:
                    self.send_response(500 if receiver.fail_first and first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
