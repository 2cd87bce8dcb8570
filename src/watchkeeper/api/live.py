"""The live runtime behind this app, if any: what ``serve`` started beside the API.

``create_app`` keeps it on ``app.state.services``; without it (tests, ``watchkeeper api``
tools) the API still answers everything stored, and live answers say the service is not
running here.
"""

from __future__ import annotations

from fastapi import Request

from watchkeeper.usecases.runtime import CameraControl, Runtime


def runtime(request: Request) -> Runtime | None:
    """The runtime this app was created with, or None."""
    services: Runtime | None = request.app.state.services
    return services


def running_cameras(request: Request) -> CameraControl | None:
    """The runtime's cameras, or None when this app runs without one."""
    live = runtime(request)
    return live.cameras if live is not None else None


def apply_camera(request: Request, camera_id: int) -> None:
    """Restart a running camera with its stored settings (zones included); nothing without a
    runtime: the stored change takes effect when the service starts."""
    manager = running_cameras(request)
    if manager is not None:
        manager.apply(camera_id)
