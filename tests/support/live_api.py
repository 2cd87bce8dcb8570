"""A real API server for tests: uvicorn on 127.0.0.1 in a background thread, on a free port.

The server runs in the test process, so tests can also look into its database directly.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from watchkeeper.api.app import SERVER_OPTIONS
from watchkeeper.context import AppContext
from watchkeeper.policy import accounts
from watchkeeper.store import auth as store

PASSWORD = "correct horse battery staple"


@dataclass
class LiveApi:
    url: str
    app: FastAPI
    ctx: AppContext

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def add_user(self, username: str, role: str, password: str = PASSWORD) -> int:
        with self.ctx.db.session() as s:
            return accounts.create_user(s, "test", username, password, role).id

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        """A client holding a session cookie, sending the CSRF header with every request."""
        client = self.client()
        reply = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert reply.status_code == 200, reply.text
        client.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
        return client

    def api_key(self, username: str, scopes: list[str] | None) -> str:
        with self.ctx.db.session() as s:
            user = store.get_user(s, username)
            return accounts.create_api_key(s, "test", user, "test key", scopes).token


def serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"
