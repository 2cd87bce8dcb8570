"""Fixtures of the security regression tests: a real server per test, users, alerts, audit.

Each ``test_finding_NN_*`` file proves that one finding of the 2026-11 attacker test
(issue 14) stays closed; docs/security.md cites them by name.
"""

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


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[Callable[..., LiveApi]]:
    """Start a server (no face models); keyword arguments are settings sections."""
    running: list[tuple[uvicorn.Server, threading.Thread, AppContext]] = []

    def start(**sections: Any) -> LiveApi:
        api_settings = {"cookie_secure": False, **sections.pop("api", {})}
        settings = load_settings(
            data_dir=tmp_path / f"data{len(running)}", api=api_settings, **sections
        )
        ctx = AppContext(settings, actor="test")
        app = create_app(ctx, load_models=False)
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
