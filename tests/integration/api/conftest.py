"""Fixtures of the API tests: a real server per test with a fresh data folder."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from support.live_api import LiveApi, serve
from watchkeeper.api.app import create_app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.vision import FaceAnalyzer


@pytest.fixture
def start_api(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[Callable[..., LiveApi]]:
    """Start a server; keyword arguments are ``api`` settings (e.g. max_upload_mb=1)."""
    running: list[tuple[uvicorn.Server, threading.Thread, AppContext]] = []

    def start(**api: Any) -> LiveApi:
        settings = load_settings(
            data_dir=tmp_path / f"data{len(running)}", api={"cookie_secure": False, **api}
        )
        ctx = AppContext(settings, actor="test")
        ctx.__dict__["analyzer"] = analyzer  # the session's models: loaded once for all tests
        app = create_app(ctx)
        server, thread, url = serve(app)
        running.append((server, thread, ctx))
        return LiveApi(url, app, ctx)

    yield start
    for server, thread, ctx in running:
        server.should_exit = True
        thread.join(timeout=10)
        ctx.close()


@pytest.fixture
def api(start_api: Callable[..., LiveApi]) -> LiveApi:
    return start_api()
