"""The runtime contract: what ``serve`` hosts beside the API, on one machine or on Ray.

Two runtimes exist: :class:`watchkeeper.service.runtime.Services` (threads in one process)
and :class:`watchkeeper.cluster.runtime.ClusterServices` (actors on a Ray cluster). The API,
the console and the ``serve`` wiring know only this Protocol, so that neither the API imports
a runtime nor a runtime imports the API, and a third runtime is checked by mypy against one
declared list instead of by ``getattr`` at request time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from watchkeeper.alerts import AlertService, EventBroker
from watchkeeper.crowd.alerting import CrowdAlertService
from watchkeeper.crowd.monitor import CrowdMonitor


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """How a camera is doing right now; runtime only, never stored."""

    camera_id: int
    name: str
    state: str  # starting, connecting, connected, reconnecting, failed, stopping, stopped, disabled
    reason: str | None = None
    fps_in: float = 0.0
    fps_analysed: float = 0.0
    lag_s: float | None = None
    key_frames_only: bool = False  # the picture is still: the source decodes key frames alone
    last_frame_at: float | None = None
    faces_per_s: float = 0.0
    frames_in: int = 0
    frames_analysed: int = 0
    faces: int = 0
    sightings: int = 0
    alerts: int = 0
    errors: int = 0
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@runtime_checkable
class CameraControl(Protocol):
    """The running cameras as the API sees them: status, a change to apply, the latest frame."""

    def status(self, camera_id: int) -> CameraStatus | None: ...

    def statuses(self) -> list[CameraStatus]: ...

    def apply(self, camera_id: int) -> None: ...

    def remove(self, camera_id: int) -> None: ...

    def snapshot(self, camera_id: int) -> bytes | None: ...

    def crowd(self, camera_id: int) -> CrowdMonitor | None:
        """The people counter of a running camera (None: not running, no zones, or a runtime
        that does not count)."""

    def crowd_snapshot(self, camera_id: int) -> bytes | None:
        """The latest counted frame with its zones drawn and faces blurred (never stored)."""


@runtime_checkable
class Runtime(Protocol):
    """A live runtime: started with the API, stopped after it, reached on ``app.state``."""

    @property
    def cameras(self) -> CameraControl:
        """The running cameras (status, changes, latest frame)."""

    @property
    def broker(self) -> EventBroker:
        """The live event broker behind ``/api/v1/events``."""

    @property
    def alerts(self) -> AlertService:
        """The alert service that also tells live listeners of a review."""

    @property
    def crowd_alerts(self) -> CrowdAlertService:
        """Crowd alerts: listed and acknowledged, and told to live listeners."""

    def start(self) -> None: ...

    def stop(self) -> None: ...
