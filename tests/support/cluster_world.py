"""What the cluster tests build: PostgreSQL behind a proxy that can be paused, a webhook
receiver, camera servers and a three-node Ray cluster on this machine.

**Why a proxy.** The tests must not stop the shared PostgreSQL server (other tests use it).
The cluster reaches its throw-away database through :class:`PausableProxy` instead, and
"PostgreSQL stopped" is the proxy closing every connection and refusing new ones, exactly
what clients see of a server that is shut down; ``resume`` is the server coming back.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from support.camera_servers import RtspServer, free_port, mjpeg_camera
from support.service_harness import GROUP, add_user, enrol_target, make_context, wait_for
from support.webhooks import SECRET, WebhookReceiver

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
