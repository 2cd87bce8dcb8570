"""The camera manager: one runner per enabled camera, kept in step with the store.

Threads, not processes (measured, see docs/architecture.md): decoding (PyAV/FFmpeg) and
inference (ONNX Runtime) release the GIL, so camera threads share the cores, and sharing one
process means one copy of the models, one gallery and one inference batcher.

A housekeeping thread rebuilds the gallery when the store's gallery version moves (an
enrolment, a deletion), publishes ``camera.status`` events when a camera's state changes,
and restarts a camera whose worker died of an unexpected error, waiting twice as long after
each such death (up to ``RESTART_CAP_S``). A camera whose *source* fails (a file that cannot
be read) is not restarted: that needs a change of its configuration.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from watchkeeper.alerts import AlertService, EventBroker
from watchkeeper.config import Settings
from watchkeeper.pipeline import Matcher, Screen
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.service.batcher import Inference
from watchkeeper.service.camera import CameraRunner, CameraSpec, FrameObserver
from watchkeeper.store import Database, NotFound
from watchkeeper.store import cameras as camera_store
from watchkeeper.usecases.runtime import CameraStatus

log = logging.getLogger(__name__)

STATUS_POLL_S = 1.0
RESTART_BASE_S = 1.0
RESTART_CAP_S = 60.0


class CameraManager:
    """Starts, restarts and stops the camera runners; answers for their status."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        inference: Inference,
        match: Matcher,
        alerts: AlertService,
        broker: EventBroker | None = None,
        refresh_gallery: Callable[[], object] | None = None,
        observe: FrameObserver | None = None,
        archive_days: Callable[[str], int | None] | None = None,
        counters: ActivityCounters | None = None,
        screen: Screen | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.inference = inference
        self.match = match
        self.alerts = alerts
        self.broker = broker
        self.refresh_gallery = refresh_gallery
        self.observe = observe
        self.archive_days = archive_days
        self.counters = counters
        self.screen = screen
        self._runners: dict[int, CameraRunner] = {}
        self._specs: dict[int, CameraSpec] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._last_states: dict[int, tuple[str, str | None]] = {}
        self._crashes: dict[int, tuple[int, float | None]] = {}  # camera → deaths, restart at

    def start(self) -> None:
        with self.db.session(readonly=True) as s:
            specs = [CameraSpec.from_row(r, self.db.cipher) for r in camera_store.list_cameras(s)]
        for spec in specs:
            self._apply(spec)
        self._housekeeper = threading.Thread(
            target=self._housekeep, name="camera-housekeeper", daemon=True
        )
        self._housekeeper.start()
        log.info("camera manager started %d of %d cameras", len(self._runners), len(specs))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every camera at once, then wait (their open tracks are flushed to alerts)."""
        self._stop.set()
        with self._lock:
            runners = list(self._runners.values())
            self._runners.clear()
        for runner in runners:
            runner.request_stop()
        deadline = time.monotonic() + timeout
        for runner in runners:
            if not runner.join(max(0.0, deadline - time.monotonic())):
                log.warning("camera %s did not stop within %g s", runner.spec.name, timeout)
        if self._housekeeper is not None:
            self._housekeeper.join(timeout)

    def apply(self, camera_id: int) -> None:
        """Bring the runner of one camera in line with the store (after a create or change)."""
        try:
            with self.db.session(readonly=True) as s:
                spec = CameraSpec.from_row(camera_store.get_camera(s, camera_id), self.db.cipher)
        except NotFound:
            self.remove(camera_id)
            return
        self._apply(spec)

    def remove(self, camera_id: int) -> None:
        with self._lock:
            runner = self._runners.pop(camera_id, None)
            self._specs.pop(camera_id, None)
        if runner is not None:
            runner.request_stop()
            runner.join(self.settings.service.shutdown_timeout_s)

    def status(self, camera_id: int) -> CameraStatus | None:
        with self._lock:
            runner = self._runners.get(camera_id)
            spec = self._specs.get(camera_id)
        if runner is not None:
            return runner.status()
        if spec is not None:
            return CameraStatus(spec.id, spec.name, "disabled")
        return None

    def statuses(self) -> list[CameraStatus]:
        with self._lock:
            ids = sorted(self._specs)
        return [status for cid in ids if (status := self.status(cid)) is not None]

    def snapshot(self, camera_id: int) -> bytes | None:
        with self._lock:
            runner = self._runners.get(camera_id)
        return runner.snapshot() if runner is not None else None

    def _apply(self, spec: CameraSpec) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            old = self._runners.pop(spec.id, None)
            self._specs[spec.id] = spec
        if old is not None:
            old.request_stop()
            old.join(self.settings.service.shutdown_timeout_s)
        if not spec.enabled:
            return
        runner = CameraRunner(
            spec, self.inference, self.match, self.alerts, self.settings, self.observe,
            self.archive_days, self.counters, self.screen,
        )  # fmt: skip
        with self._lock:
            self._runners[spec.id] = runner
        runner.start()

    def _housekeep(self) -> None:
        next_refresh = 0.0
        while not self._stop.wait(STATUS_POLL_S):
            if self.refresh_gallery is not None and time.monotonic() >= next_refresh:
                next_refresh = time.monotonic() + self.settings.service.gallery_refresh_s
                try:
                    self.refresh_gallery()
                except Exception:  # the database may be busy: try again next time
                    log.exception("gallery refresh failed")
            self._restart_crashed()
            self._publish_changes()

    def _restart_crashed(self) -> None:
        now = time.monotonic()
        with self._lock:
            dead = [r for r in self._runners.values() if r.crashed and not r.alive]
        for runner in dead:
            camera = runner.spec.id
            deaths, restart_at = self._crashes.get(camera, (0, None))
            if restart_at is None:  # just noticed: schedule the restart
                delay = min(RESTART_CAP_S, RESTART_BASE_S * 2.0**deaths)
                self._crashes[camera] = (deaths + 1, now + delay)
                log.warning("camera %s died; restarting it in %.0f s", runner.spec.name, delay)
            elif now >= restart_at:
                self._crashes[camera] = (deaths, None)
                self._apply(runner.spec)

    def _publish_changes(self) -> None:
        for status in self.statuses():
            key = (status.state, status.reason)
            if self._last_states.get(status.camera_id) != key:
                self._last_states[status.camera_id] = key
                if self.broker is not None:
                    self.broker.publish("camera.status", status.as_dict())
