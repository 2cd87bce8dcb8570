"""Prometheus metrics: one registry per app, so two apps in one process (tests) never clash.

The :class:`Metrics` object lives on ``app.state.metrics``; other subsystems register their
own collectors in the same registry, e.g. the camera manager::

    frames = Counter("watchkeeper_frames_total", "Frames read", ["camera"],
                     registry=app.state.metrics.registry)

``/metrics`` serves the registry in the Prometheus text format.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The registry and the API's own collectors."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.http_requests = Counter(
            "watchkeeper_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "watchkeeper_http_request_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.logins = Counter(
            "watchkeeper_logins_total",
            "Login attempts by outcome (ok, failed, limited).",
            ["outcome"],
            registry=self.registry,
        )

        self.inference_runtime = Info(
            "watchkeeper_inference_runtime",
            "What runs the face models (engine, version, device, precision), once loaded.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
