"""One camera in the live service: its source, pipeline and worker on a thread of its own.

A :class:`CameraRunner` opens the camera's source on its own thread (live URIs through a
:class:`~watchkeeper.streams.ReconnectingSource`, so a camera that is down is retried with
back-off and jitter, never given up), runs a :class:`~watchkeeper.pipeline.CameraWorker`
there, and keeps what an operator needs to see: state with its reason, rates, lag and the
latest analysed frame (in memory only, encoded to JPEG when someone asks). Whatever goes
wrong inside one runner (a source that sends garbage, a crash in the pipeline, a failed
database write) is caught and shown in that camera's status; no other camera notices.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from watchkeeper.alerts import AlertService, CameraRef
from watchkeeper.config import Settings
from watchkeeper.crowd.monitor import CrowdMonitor
from watchkeeper.crowd.render import draw
from watchkeeper.domain import Frame, Match, Sighting
from watchkeeper.pipeline import (
    CameraPipeline,
    CameraWorker,
    Matcher,
    MotionGatedAnalyzer,
    Screen,
    motion_gated,
)
from watchkeeper.pipeline.region import inside
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.recognition import record_archived
from watchkeeper.service.batcher import Inference
from watchkeeper.store.crypto import Cipher
from watchkeeper.store.models import Camera
from watchkeeper.store.uri_secrets import open_uri
from watchkeeper.streams import SOURCE_KINDS, Source, SourceError, open_source, resolve
from watchkeeper.streams.base import redact
from watchkeeper.usecases.runtime import CameraStatus
from watchkeeper.vision import AnalysedFaces
from watchkeeper.vision.imageio import encode_jpeg

log = logging.getLogger(__name__)

RATE_WINDOW_S = 10.0
SNAPSHOT_MAX_SIDE = 1280

# (camera name, faces in the frame, lag in seconds or None for recordings)
FrameObserver = Callable[[str, int, float | None], None]


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """A camera's configuration, detached from the database (and picklable)."""

    id: int
    name: str
    uri: str
    group: str = "default"
    analysis_fps: float = 5.0
    enabled: bool = True
    min_face_size: int | None = None
    detection_threshold: float | None = None
    roi: tuple[float, ...] | None = None
    motion_gating: bool | None = None  # None: the configured default
    face_recognition: bool = True

    @classmethod
    def from_row(cls, row: Camera, cipher: Cipher | None) -> CameraSpec:
        """The spec to run; ``cipher`` (``Database.cipher``) opens a password stored sealed."""
        return cls(
            id=row.id,
            name=row.name,
            uri=open_uri(row.uri, cipher, f'camera "{row.name}"'),
            group=row.group,
            analysis_fps=row.analysis_fps,
            enabled=row.enabled,
            min_face_size=row.min_face_size,
            detection_threshold=row.detection_threshold,
            roi=tuple(row.roi) if row.roi else None,
            motion_gating=row.motion_gating,
            face_recognition=row.face_recognition,
        )


class CameraFilter:
    """The shared inference, seen through one camera's settings (threshold, size, region).

    The global detector settings apply first; a camera can only be stricter.
    """

    def __init__(self, inference: Inference, spec: CameraSpec) -> None:
        self.inference = inference
        self.spec = spec

    @property
    def model(self) -> str:
        return self.inference.model

    def embed(self, aligned: np.ndarray) -> Any:
        return self.inference.embed(aligned)

    def analyse(self, image: np.ndarray) -> AnalysedFaces:
        analysed = self.inference.analyse(image)
        faces, spec = analysed.faces, self.spec
        if len(faces) == 0:
            return analysed
        keep = np.ones(len(faces), bool)
        if spec.detection_threshold is not None:
            keep &= faces.scores >= spec.detection_threshold
        if spec.min_face_size is not None:
            keep &= faces.sizes >= spec.min_face_size
        if spec.roi is not None:
            keep &= inside(spec.roi, faces.boxes, image.shape[1], image.shape[0])
        if keep.all():
            return analysed
        return AnalysedFaces(faces=faces[keep], aligned=analysed.aligned[keep])


class NoFaces:
    """The inference of a camera that only counts people: it never looks for a face."""

    def __init__(self, inference: Inference) -> None:
        self.model = inference.model

    def analyse(self, image: np.ndarray) -> AnalysedFaces:
        return AnalysedFaces.empty()

    def embed(self, aligned: np.ndarray) -> Any:
        return np.zeros((0, 0), np.float32)


class CameraRunner:
    """Runs one camera until stopped; safe to ask for its status from any thread."""

    def __init__(
        self,
        spec: CameraSpec,
        inference: Inference,
        match: Matcher,
        alerts: AlertService,
        settings: Settings,
        observe: FrameObserver | None = None,
        archive_days: Callable[[str], int | None] | None = None,
        counters: ActivityCounters | None = None,
        screen: Screen | None = None,
        crowd: CrowdMonitor | None = None,
    ) -> None:
        self.spec = spec
        self.crowd = crowd
        self.inference = inference
        self.match = match
        self.alerts = alerts
        self.settings = settings
        self.observe = observe
        self.archive_days = archive_days
        self.counters = counters
        self.screen = screen
        try:
            self.live = SOURCE_KINDS[resolve(spec.uri)[0]].live
        except SourceError:  # the thread meets the same error and shows it as the status
            self.live = False
        self._ref = CameraRef(spec.name, spec.uri, spec.group, spec.analysis_fps)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._source: Source | None = None
        self._worker: CameraWorker | None = None
        self._pipeline: CameraPipeline | None = None
        self._failure: str | None = None
        self.crashed = False  # stopped by an unexpected error (the manager restarts it)
        self._finished = False
        self._latest: Frame | None = None
        self._snapshot: tuple[int, bytes] | None = None
        self._crowd_snapshot: tuple[np.ndarray, bytes] | None = None  # (frame drawn, JPEG)
        self._faces: deque[tuple[float, int]] = deque()
        self._lag: float | None = None
        self._sightings = 0
        self._alerts = 0
        self._sink_errors = 0

    # --- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._main, name=f"camera-{self.spec.name}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the worker to stop; it closes its open tracks (and their alerts) on the way out."""
        self._stopping.set()
        with self._lock:
            worker, source = self._worker, self._source
        if worker is not None:
            worker.stop(timeout=0)
        elif source is not None:
            source.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _main(self) -> None:
        streams = self.settings.streams
        try:
            source = open_source(
                self.spec.uri,
                self.spec.name,
                self.spec.analysis_fps,
                open_timeout_s=streams.open_timeout_s,
                max_image_pixels=streams.max_image_pixels,
                read_timeout_s=streams.read_timeout_s,
                decode_threads=streams.decode_threads,
                skip_nonref=streams.skip_nonref,
                max_key_interval_s=streams.max_key_interval_s,
                rewind_live=streams.rewind_live,
                reconnect=True,
                backoff_base_s=streams.backoff_base_s,
                backoff_cap_s=streams.backoff_cap_s,
            )
            # the gate sits under the camera's filter: it hands on faces in frame pixels
            gated = motion_gated(
                self.inference, self.settings.motion, self.spec.analysis_fps,
                self.spec.motion_gating, self.spec.roi,
            )  # fmt: skip
            pipeline = CameraPipeline(
                self.spec.name,
                (
                    CameraFilter(gated, self.spec)
                    if self.spec.face_recognition
                    else NoFaces(self.inference)
                ),
                self.settings.tracking,
                self.settings.vision.min_quality,
                self.screen,
                early_after=self.settings.tracking.early_match_after if self.live else 0,
                early_looks=self.settings.tracking.early_match_looks,
                gate=self._resting_gate(gated),
            )
            on_frame = (
                self.counters.frame_hook(pipeline, then=self._on_frame)
                if self.counters is not None
                else self._on_frame
            )
            worker = CameraWorker(source, pipeline, self.match, self._sink, on_frame)
            with self._lock:
                self._source, self._pipeline, self._worker = source, pipeline, worker
            if self._stopping.is_set():
                source.close()
            try:
                worker.run()
            finally:
                if self.crowd is not None:
                    self.crowd.close()
            self._finished = True
        except SourceError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a broken camera must not take the others down
            log.exception("camera %s stopped by an error", self.spec.name)
            self.crashed = True
            self._fail(f"{type(exc).__name__}: {exc}")

    def _resting_gate(self, gated: object) -> MotionGatedAnalyzer | None:
        """The gate whose still picture lets the source decode key frames only: none where
        the gate does not see the frames, or where crowd counting needs every analysed one."""
        usable = self.spec.face_recognition and self.crowd is None
        return gated if usable and isinstance(gated, MotionGatedAnalyzer) else None

    def _fail(self, reason: str) -> None:
        self._failure = redact(reason)
        log.error("camera %s failed: %s", self.spec.name, self._failure)

    # --- what the worker calls -------------------------------------------------------------

    def _sink(self, sighting: Sighting, matches: list[Match]) -> None:
        self._sightings += 1
        try:
            if matches:
                changes = self.alerts.record(self._ref, [(sighting, matches)])
                self._alerts += sum(1 for change in changes if change.type == "alert.created")
            elif (days := self._archive_days()) is not None:
                ref = self._ref
                record_archived(
                    self.alerts.db, self.alerts.media, ref.uri, [sighting], days, ref.group,
                    ref.analysis_fps,
                )  # fmt: skip
            # else: a passer-by, and nothing is kept
        except Exception:  # e.g. the database is locked for too long: keep watching
            self._sink_errors += 1
            log.exception("camera %s: a sighting could not be stored", self.spec.name)

    def _archive_days(self) -> int | None:
        """Days to keep an unmatched sighting: only where the camera group archives."""
        return self.archive_days(self.spec.name) if self.archive_days is not None else None

    def _on_frame(self, frame: Frame) -> None:
        now = time.time()
        pipeline = self._pipeline
        faces = 0
        if pipeline is not None and pipeline.stats.faces_per_frame:
            faces = pipeline.stats.faces_per_frame[-1]
            pipeline.stats.faces_per_frame.clear()  # a service runs for months: keep no history
        self._latest = frame
        self._lag = now - frame.timestamp if self.live else None
        with self._lock:  # status() reads the window from other threads
            self._faces.append((now, faces))
            while self._faces and self._faces[0][0] < now - RATE_WINDOW_S:
                self._faces.popleft()
        if self.observe is not None:
            self.observe(self.spec.name, faces, self._lag)
        if self.crowd is not None:
            try:
                self.crowd.observe(frame)
            except Exception:  # e.g. the database is busy: counting goes on next frame
                self._sink_errors += 1
                log.exception("camera %s: crowd counting failed on a frame", self.spec.name)

    # --- what operators see ----------------------------------------------------------------

    def status(self) -> CameraStatus:
        source, pipeline = self._source, self._pipeline
        health = source.health if source is not None else None
        if self._failure is not None:
            state, reason = "failed", self._failure
        elif self._finished or (self._stopping.is_set() and not self.alive):
            state, reason = "stopped", None
        elif self._stopping.is_set():
            # asked to stop, and still deciding the tracks that were open: "stopped" would
            # tell the operator that every sighting is recorded
            state, reason = "stopping", None
        elif health is None:
            state, reason = "starting", None
        elif health.state == "stopped":
            # the source has ended, but the worker is still deciding the tracks that were open
            # at its end: "stopped" would tell a caller that their sightings are all recorded
            state, reason = "connected", None
        else:
            state = health.state
            reason = health.last_error if state != "connected" else None
        with self._lock:
            faces = list(self._faces)
        span = faces[-1][0] - faces[0][0] if len(faces) > 1 else 0.0
        return CameraStatus(
            camera_id=self.spec.id,
            name=self.spec.name,
            state=state,
            reason=redact(reason) if reason else None,
            fps_in=round(health.fps_in, 2) if health else 0.0,
            fps_analysed=round(health.fps_out, 2) if health else 0.0,
            lag_s=round(self._lag, 3) if self._lag is not None else None,
            key_frames_only=health.key_frames_only if health else False,
            last_frame_at=health.last_frame_at if health else None,
            faces_per_s=round(sum(n for _, n in faces[1:]) / span, 2) if span > 0 else 0.0,
            frames_in=health.frames_in if health else 0,
            frames_analysed=pipeline.stats.frames if pipeline else 0,
            faces=pipeline.stats.faces if pipeline else 0,
            sightings=self._sightings,
            alerts=self._alerts,
            errors=(health.errors if health else 0) + self._sink_errors,
            attempts=health.attempts if health else 0,
        )

    def crowd_snapshot(self, max_side: int = SNAPSHOT_MAX_SIDE) -> bytes | None:
        """The latest frame with zones and people drawn and heads blurred (memory only)."""
        if self.crowd is None:
            return None
        _, people, latest = self.crowd.live()
        if latest is None:
            return None
        cached = self._crowd_snapshot
        if cached is not None and cached[0] is latest:  # the same counted frame: drawn already
            return cached[1]
        faces = self.inference.detect(latest).boxes  # found now, to blur them
        jpeg = _jpeg(draw(latest, self.crowd.counter.zones, people, faces), max_side)
        self._crowd_snapshot = (latest, jpeg)
        return jpeg

    def snapshot(self, max_side: int = SNAPSHOT_MAX_SIDE) -> bytes | None:
        """The latest analysed frame as JPEG (kept in memory, never written anywhere)."""
        frame = self._latest
        if frame is None:
            return None
        cached = self._snapshot
        if cached is not None and cached[0] == frame.index:
            return cached[1]
        jpeg = _jpeg(frame.image, max_side)
        self._snapshot = (frame.index, jpeg)
        return jpeg


def _jpeg(image: np.ndarray, max_side: int) -> bytes:
    """A live view's JPEG: scaled down to ``max_side`` at most, quality 80."""
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return encode_jpeg(image, quality=80)
