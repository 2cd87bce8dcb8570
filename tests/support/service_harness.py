"""What the service tests share: a data folder with an enrolled passer-by, a live API, waiting.

The enrolled person is the demo's: a crop of the best face in frame 5 of the bundled 1080p
clip stands in for a photo from elsewhere; they walk through the first second of the clip,
so every run of the clip (file, RTSP, MJPEG) sights them. Their watchlist is authorised for
camera group ``test`` (outside an authorisation nothing is matched).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import uvicorn
from fastapi import FastAPI

from watchkeeper.api.app import SERVER_OPTIONS
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, probe_photo, read_frame
from watchkeeper.enrolment import enrol_person
from watchkeeper.policy import accounts, deployments
from watchkeeper.store import auth as auth_store
from watchkeeper.store import repository
from watchkeeper.vision import FaceAnalyzer

GROUP = "test"
PASSWORD = "correct horse battery staple"
T = TypeVar("T")


def make_context(data_dir: Path, analyzer: FaceAnalyzer, **settings: Any) -> AppContext:
    ctx = AppContext(load_settings(data_dir=data_dir, **settings), actor="test")
    ctx.__dict__["analyzer"] = analyzer  # the session's models, loaded once
    return ctx


def enrol_target(ctx: AppContext, confirmations: int = 1) -> int:
    """The passer-by of frame 5 on list "missing", authorised on group "test"; their id."""
    now = datetime.now(UTC)
    with ctx.db.session() as s:
        repository.create_watchlist(
            s, "missing", "missing_person", "test (fictional)", "test",
            confirmations_required=confirmations,
        )  # fmt: skip
        deployments.authorise(
            s, "missing", GROUP, now - timedelta(days=3650), now + timedelta(days=1),
            authorised_by="test", authorisation_ref="TEST-1", actor="test",
        )  # fmt: skip
    photo, _box = probe_photo(ctx, read_frame(CLIP, 5))
    settings = ctx.settings
    enrolled = enrol_person(
        ctx.db, ctx.media, ctx.analyzer, watchlist="missing", name="Target <b>one</b>",
        photos=[("frame 5", photo)], actor="test", largest_face=True,
        max_pixels=settings.streams.max_image_pixels,
        min_quality=settings.vision.enrol_min_quality,
    )  # fmt: skip
    return enrolled.person_id


def add_user(ctx: AppContext, username: str, role: str) -> str:
    """Create a user and return an API key with all their permissions."""
    with ctx.db.session() as s:
        accounts.create_user(s, "test", username, PASSWORD, role)
        user = auth_store.get_user(s, username)
        return accounts.create_api_key(s, "test", user, "test key", None).token


def serve_api(
    app: FastAPI, lifespan: Literal["on", "off"] = "on"
) -> tuple[uvicorn.Server, threading.Thread, str]:
    """uvicorn on a free port in a thread; the app's lifespan starts and stops its services
    (``off``: they run already, and stay)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan=lifespan, timeout_graceful_shutdown=2, **SERVER_OPTIONS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 30, "the API server to start")
    if not server.started:
        raise RuntimeError("the API server did not start")
    return server, thread, f"http://127.0.0.1:{port}"


def wait_for(condition: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll until ``condition()`` is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
