"""Operations endpoints outside ``/api/v1``: liveness, readiness, metrics.

- ``/healthz``: the process answers (no auth, no details).
- ``/readyz``: the database answers and the face models are loaded (no auth; 200 or 503
  with nothing more than ``ready``/``not ready``, so it leaks nothing to the network).
- ``/metrics``: Prometheus text. Not behind a login (Prometheus scrapes without one) but
  behind an allow-list of client networks, ``api.metrics_allow`` (default: this machine
  only), because the figures (cameras, alert counts) say something about operations.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchkeeper.api.clients import client_address
from watchkeeper.api.metrics import CONTENT_TYPE_LATEST, Metrics
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.store import repository

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and models loaded")
def readyz(request: Request) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    ready = models_loaded(request.app)
    if ready:
        try:
            with ctx.db.session(readonly=True) as s:
                repository.gallery_version(s)
        except Exception:  # any failure means not ready; the reason goes to the log only
            log.warning("readiness: database check failed", exc_info=True)
            ready = False
    return JSONResponse(
        {"status": "ready" if ready else "not ready"}, status_code=200 if ready else 503
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (allow-listed networks only)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    client = client_address(request)
    if not _allowed(client, ctx.settings.api.metrics_allow):
        raise ProblemError(403, f"{client or 'this client'} is not in api.metrics_allow")
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)


def _allowed(client: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


class HttpMetrics:
    """ASGI middleware: count requests and time them, labelled by route template (bounded)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = _route_template(scope)
            self.metrics.http_requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.http_latency.labels(route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/persons/{person_id}``), never the raw path,
    so that the number of label values stays bounded."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def load_models(app_ctx: AppContext, metrics: Metrics, ready: threading.Event) -> None:
    """Load the face models off the start-up path; ``ready`` is set once they answer.

    The runtime they loaded on (OpenVINO or ONNX Runtime, and its precision) is exported on
    /metrics, so an operator can see which one a node chose.
    """
    try:
        runtime = app_ctx.analyzer.runtime
    except Exception:  # readiness stays false; the log says why
        log.exception("the face models could not be loaded: /readyz will answer 503")
        return
    metrics.inference_runtime.info({"runtime": runtime})
    ready.set()


def models_loaded(app: Any) -> bool:
    """Whether the models ``load_models`` started on are loaded (readiness)."""
    event = getattr(app.state, "models_ready", None)
    return isinstance(event, threading.Event) and event.is_set()
