"""The FastAPI application: wiring only. Each resource lives in its own router module.

``create_app`` opens (and migrates) the database at once, so a bad database URL fails at
start-up, and loads the face models in a background thread, so the server answers
``/healthz`` immediately and ``/readyz`` once it can enrol and match.

State for endpoints: ``request.app.state.ctx`` (the :class:`AppContext`),
``request.app.state.services`` (the live :class:`~watchkeeper.usecases.runtime.Runtime`,
read through ``api.live.runtime``; None when the API runs alone), ``request.app.state.metrics``
(the Prometheus registry). The runtime is started and stopped with the app (in a worker
thread, so it may block).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from watchkeeper import __version__
from watchkeeper.api import ops, problems
from watchkeeper.api.clients import networks
from watchkeeper.api.limits import BodyLimit, LoginThrottle, RateLimit
from watchkeeper.api.metrics import Metrics
from watchkeeper.api.responses import SafeJSONResponse, SecurityHeaders
from watchkeeper.api.routers import ROUTERS
from watchkeeper.api.viewlog import SNAPSHOT_WINDOW_S, ViewWindow
from watchkeeper.context import AppContext
from watchkeeper.usecases.runtime import Runtime
from watchkeeper.web import mount as mount_console

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# How uvicorn must run this app (``serve`` and the tests alike). uvicorn would otherwise take
# the client's address from X-Forwarded-For itself, from 127.0.0.1 by default; here
# ``api.clients`` decides, believing only ``api.trusted_proxies``.
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


def create_app(
    app_ctx: AppContext,
    *,
    services: Runtime | None = None,
    metrics: Metrics | None = None,
    load_models: bool = True,
) -> FastAPI:
    """The whole HTTP API for one installation (``load_models=False``: readiness never true)."""
    settings = app_ctx.settings.api
    app_ctx.db  # noqa: B018  open and migrate now: a bad database fails start-up, not a request
    models_ready = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if load_models:
            threading.Thread(
                target=ops.load_models,
                args=(app_ctx, app.state.metrics, models_ready),
                name="load-models",
                daemon=True,
            ).start()
        if services is not None:
            await run_in_threadpool(services.start)
        try:
            yield
        finally:
            if services is not None:
                await run_in_threadpool(services.stop)

    app = FastAPI(
        title="Watchkeeper",
        version=__version__,
        summary="Accountable live facial recognition against purpose-bound watchlists.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs else None,  # its assets come from a CDN
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        default_response_class=SafeJSONResponse,
    )
    app.state.ctx = app_ctx
    app.state.services = services
    app.state.metrics = metrics or Metrics()
    app.state.models_ready = models_ready
    app.state.trusted_proxies = networks(settings.trusted_proxies)
    app.state.login_throttle = LoginThrottle(
        settings.login_max_failures, settings.login_window_seconds
    )
    app.state.password_throttle = LoginThrottle(
        settings.login_max_failures, settings.login_window_seconds
    )
    app.state.camera_tests = RateLimit(settings.camera_tests_per_minute, 60.0)
    app.state.snapshot_views = ViewWindow(SNAPSHOT_WINDOW_S)
    # Enrolment runs the detector; one at a time keeps a burst of uploads from starving
    # the camera workers of CPU (and the models need no thread-safety guarantees).
    app.state.enrol_lock = threading.Lock()
    problems.install(app)
    # The last added runs first: metrics see every answer, the 413 of BodyLimit included.
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ops.HttpMetrics, metrics=app.state.metrics)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(ops.router)
    mount_console(app)  # the operator console: pages at /, assets at /static
    return app
