"""What the cluster tests build: PostgreSQL behind a proxy that can be paused, a webhook
receiver, camera servers and a three-node Ray cluster on this machine.

**Why a proxy.** The tests must not stop the shared PostgreSQL server (other tests use it).
The cluster reaches its throw-away database through :class:`PausableProxy` instead, and
"PostgreSQL stopped" is the proxy closing every connection and refusing new ones, exactly
what clients see of a server that is shut down; ``resume`` is the server coming back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.server
import json
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from support.camera_servers import RtspServer, free_port, mjpeg_camera
from support.service_harness import GROUP, add_user, enrol_target, make_context, wait_for

__all__ = [
    "GROUP",
    "SECRET",
    "PausableProxy",
    "RtspServer",
    "WebhookReceiver",
    "add_user",
    "enrol_target",
    "make_context",
    "mjpeg_camera",
    "wait_for",
]

SECRET = "cluster-webhook-secret-0123"


class PausableProxy:
    """A TCP relay to ``target``; ``pause`` drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.paused = False

    def start(self) -> PausableProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self.paused = False
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def pause(self) -> None:
        self.paused = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def resume(self) -> None:
        self.start()

    stop = pause

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self.paused:
                    _close(client)
                    _close(upstream)
                    continue
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)
            with self._lock:
                self._sockets -= {source, sink}


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass
class WebhookReceiver:
    """Checks each signature; processes each Idempotency-Key once, as a receiver must."""

    port: int = field(default_factory=free_port)
    posts: list[str] = field(default_factory=list)  # every key received, repeats included
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad_signatures: int = 0
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def alert_ids(self) -> Counter[int]:
        """How often each alert was processed (must be once)."""
        return Counter(int(body["alert"]["id"]) for body in list(self.processed.values()))

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed_part = self.headers["X-Watchkeeper-Timestamp"].encode() + b"." + body
                mac = hmac.new(SECRET.encode(), signed_part, hashlib.sha256).hexdigest()
                expected = f"sha256={mac}"
                key = self.headers["Idempotency-Key"]
                receiver.posts.append(key)
                if not hmac.compare_digest(expected, self.headers["X-Watchkeeper-Signature"]):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif key not in receiver.processed:
                    receiver.processed[key] = json.loads(body)
                    self.send_response(200)
                else:
                    self.send_response(200)  # a repeat: acknowledged, not processed again
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
