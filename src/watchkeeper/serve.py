"""``watchkeeper serve``: the API, the live runtime and the notifications, in one process.

SIGTERM or SIGINT (Ctrl-C) stops it gracefully: the API stops accepting, camera workers close
their open tracks into sightings and alerts, the outbox gets a last delivery pass, then the
process exits (docs/architecture.md, "Shutdown").

This module is the one place that knows both the API and the runtimes: ``build_runtime``
picks the single-machine :class:`~watchkeeper.service.runtime.Services` or, with
``--cluster``, Ray's :class:`~watchkeeper.cluster.runtime.ClusterServices`; both implement
:class:`~watchkeeper.usecases.runtime.Runtime`, which is all the API sees.
"""

from __future__ import annotations

import logging
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from prometheus_client import CollectorRegistry

from watchkeeper.cli_common import app_context
from watchkeeper.context import AppContext
from watchkeeper.service import logs
from watchkeeper.service.runtime import Services
from watchkeeper.usecases.runtime import Runtime

GRACEFUL_HTTP_S = 3  # open SSE streams are closed after this, then the services stop


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: api.port).")] = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Run the cameras on a Ray cluster: auto, HOST:PORT or ray://HOST:PORT "
            "(needs the [cluster] extra and PostgreSQL; docs/scaling.md).",
        ),
    ] = None,
) -> None:
    """Run the service: API, camera workers and alert notifications, in one process."""
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise typer.BadParameter(f"unknown level {log_level!r}", param_hint="--log-level")
    run_server(app_context(ctx), host, port, level, log_json, cluster)


def run_server(
    app_ctx: AppContext,
    host: str | None = None,
    port: int | None = None,
    level: int = logging.INFO,
    log_json: bool = False,
    cluster: str | None = None,
) -> None:
    """Host the API, the cameras and the dispatcher until SIGTERM or Ctrl-C."""
    from watchkeeper.api.app import SERVER_OPTIONS, create_app  # here: other commands stay quick
    from watchkeeper.api.metrics import Metrics

    logs.configure(level, log_json)
    settings = app_ctx.settings.api
    metrics = Metrics()
    services = build_runtime(app_ctx, cluster, metrics.registry)
    app = create_app(app_ctx, services=services, metrics=metrics)
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # keep ours (JSON or text) for uvicorn's loggers too
        log_level=level,
        timeout_graceful_shutdown=GRACEFUL_HTTP_S,
        **SERVER_OPTIONS,
        access_log=False,  # requests are counted in /metrics; a log line each is noise
    )
    # Returns after SIGTERM/SIGINT once the services have stopped; uvicorn then re-raises the
    # signal, so the process ends "killed by SIGTERM" as service managers expect of a clean stop.
    _Server(config, services).run()


def build_runtime(
    app_ctx: AppContext, cluster: str | None, registry: CollectorRegistry | None = None
) -> Runtime:
    """The runtime to host: Ray's when ``cluster`` names one, else this machine's threads."""
    if cluster is not None:  # imported here: one machine never imports Ray
        from watchkeeper.cluster.runtime import ClusterServices

        return ClusterServices(app_ctx, cluster)
    return Services(app_ctx, registry=registry)


class _Server(uvicorn.Server):
    """uvicorn, ending the live event streams as soon as it is told to stop.

    uvicorn waits for open connections before it stops the app; an SSE stream never ends by
    itself, so without this every shutdown would wait for the full graceful timeout.
    """

    def __init__(self, config: uvicorn.Config, services: Runtime) -> None:
        super().__init__(config)
        self.services = services

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.services.broker.close()
        super().handle_exit(sig, frame)
