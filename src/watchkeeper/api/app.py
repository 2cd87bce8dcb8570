"""The FastAPI application: wiring only. Each resource lives in its own router module.

``create_app`` opens (and migrates) the database at once, so a bad database URL fails at
start-up, and loads the face models in a background thread, so the server answers
``/healthz`` immediately and ``/readyz`` once it can enrol and match.

State for endpoints: ``request.app.state.ctx`` (the :class:`AppContext`),
``request.app.state.services`` (the live service's runtime objects, e.g. the camera manager;
None when the API runs alone), ``request.app.state.metrics`` (the Prometheus registry).
When ``services`` has ``start()``/``stop()`` methods they are called as the app starts and
stops (in a worker thread, so they may block).
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
from watchkeeper.api.limits import BodyLimit, LoginLimiter
from watchkeeper.api.metrics import Metrics
from watchkeeper.api.responses import SafeJSONResponse, SecurityHeaders
from watchkeeper.api.routers import ROUTERS
from watchkeeper.context import AppContext
from watchkeeper.web import mount as mount_console

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def create_app(
    app_ctx: AppContext,
    *,
    services: object | None = None,
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
                target=_load_models, args=(app_ctx, models_ready), name="load-models", daemon=True
            ).start()
        start = getattr(services, "start", None)
        if callable(start):
            await run_in_threadpool(start)
        try:
            yield
        finally:
            stop = getattr(services, "stop", None)
            if callable(stop):
                await run_in_threadpool(stop)

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
    app.state.login_limiter = LoginLimiter(
        settings.login_max_failures, settings.login_window_seconds
    )
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


def _load_models(app_ctx: AppContext, ready: threading.Event) -> None:
    try:
        _ = app_ctx.analyzer
    except Exception:  # readiness stays false; the log says why
        log.exception("the face models could not be loaded: /readyz will answer 503")
        return
    ready.set()


def models_loaded(app: Any) -> bool:
    event = getattr(app.state, "models_ready", None)
    return isinstance(event, threading.Event) and event.is_set()
