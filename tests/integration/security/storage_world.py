"""A live API server with one user of each role, for the storage and integrity findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.live_api import LiveApi, serve
from watchkeeper.api.app import create_app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.vision import FaceAnalyzer

ROLES = {"ada": "admin", "sue": "supervisor", "olga": "operator", "audrey": "auditor"}


def start(tmp_path: Path, analyzer: FaceAnalyzer, **settings: Any) -> tuple[LiveApi, Any]:
    """A server on a fresh data folder; returns it and a function that stops it."""
    api = {"cookie_secure": False, **settings.pop("api", {})}
    ctx = AppContext(load_settings(data_dir=tmp_path / "data", api=api, **settings), actor="test")
    ctx.__dict__["analyzer"] = analyzer  # the session's models, loaded once
    app = create_app(ctx)
    server, thread, url = serve(app)
    live = LiveApi(url, app, ctx)
    for username, role in ROLES.items():
        live.add_user(username, role)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        ctx.close()

    return live, stop
