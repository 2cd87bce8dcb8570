"""A camera worker: the cameras the scheduler gave to one process on a camera node.

:class:`CameraHost` is what a Ray actor runs (``ray.remote(CameraHost)``, restarted by Ray
when it or its node dies). It hosts the same :class:`~watchkeeper.service.CameraRunner` that
``watchkeeper serve`` runs on one machine — one thread per camera: source with reconnection,
pipeline, worker — with three changes of hosting and none of logic:

- inference goes through :class:`~watchkeeper.cluster.inference.RemoteInference` (the
  inference actors) or, without inference actors, through a local batcher;
- the gallery is this process's own :class:`~watchkeeper.recognition.Recogniser`, rebuilt
  from PostgreSQL whenever the store's gallery version moves (checked every
  ``service.gallery_refresh_s``);
- alerts are written through :class:`~watchkeeper.cluster.buffer.BufferedAlerts`, so that
  cameras go on analysing while the database is unreachable.

The host keeps no state that matters beyond its life: what it runs is the scheduler's
decision, and a restarted host starts empty and is given its cameras again.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import ray

from watchkeeper.alerts import AlertService
from watchkeeper.cluster.buffer import BufferedAlerts, BufferStats
from watchkeeper.cluster.inference import RemoteInference
from watchkeeper.cluster.placement import worker_capacity
from watchkeeper.config import ClusterConfig, Settings
from watchkeeper.domain import Match, Sighting
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.recognition import Recogniser
from watchkeeper.service.batcher import Inference, InferenceBatcher
from watchkeeper.service.camera import CameraRunner, CameraSpec
from watchkeeper.store import Database, MediaStore, StoreError
from watchkeeper.store.crypto import Cipher, configured_key
from watchkeeper.usecases.runtime import CameraStatus
from watchkeeper.vision import FaceAnalyzer

log = logging.getLogger(__name__)

STARTUP_RETRY_S = 2.0  # the database is unreachable at start: try again after this
MATCH_RETRY_S = 1.0


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What a worker tells the scheduler each round (and ``cluster status``)."""

    name: str
    incarnation: str  # new on every (re)start of the process
    node_id: str
    pid: int
    capacity: float  # cores this worker may use
    utilisation: float | None  # CPU seconds per second / capacity, since the last report
    cameras: list[CameraStatus] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)  # files read to their end
    buffer: BufferStats | None = None
    gallery_version: int = -1
    gallery_size: int = 0


class CameraHost:
    """Runs the cameras it is assigned; reports their figures; survives database outages."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        model: str,
        dimension: int,
        inference_actors: list[Any] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.incarnation = uuid.uuid4().hex[:12]
        self.node_id = ray.get_runtime_context().get_node_id()
        self.capacity = _capacity(self.node_id, settings.cluster)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._runners: dict[int, CameraRunner] = {}
        self._finished: set[int] = set()
        self.db = _open_database(settings.database, self._closing)
        key = configured_key(settings.policy.key_file)
        cipher = None if key is None else Cipher(key)
        self.media = MediaStore(settings.data_dir / "media", cipher=cipher)
        self.inference: Inference
        if inference_actors:
            self.inference = RemoteInference(inference_actors, model, dimension, self.node_id)
        else:
            service = settings.service
            batcher = InferenceBatcher(
                FaceAnalyzer.from_config(settings.vision), service.batch_max, service.batch_wait_ms
            )
            batcher.start()
            self.inference = batcher
        self.counters = ActivityCounters(self.db)
        self.recogniser = _retrying(
            lambda: Recogniser(
                self.db,
                settings.matching,
                model,
                dimension,
                policy=settings.policy,
                cipher=cipher,
                counters=self.counters,
            ),
            self._closing,
        )
        cluster = settings.cluster
        self.alerts = BufferedAlerts(
            AlertService(self.db, self.media, settings.notifications),
            cluster.buffer_max,
            cluster.retry_base_s,
            cluster.retry_cap_s,
        )
        self._cpu = (time.monotonic(), _cpu_seconds())
        self._housekeeper = threading.Thread(target=self._housekeep, daemon=True)
        self._housekeeper.start()
        log.info("worker %s started on node %s (pid %d)", name, self.node_id[:8], os.getpid())

    # --- what the scheduler calls ----------------------------------------------------------

    def assign(self, spec: CameraSpec) -> bool:
        """Run this camera (anew if its settings changed); False if it runs, or ran, so.

        A file read to its end is not read again by a repeated call: the scheduler may
        repeat an assignment that crossed a report on the way.
        """
        with self._lock:
            current = self._runners.get(spec.id)
            if current is not None and current.spec == spec:
                return False
        if current is not None:
            self.release(spec.id)
        self._know_camera()
        runner = CameraRunner(
            spec, self.inference, self._match, self.alerts, self.settings,  # type: ignore[arg-type]
            archive_days=self.recogniser.archive_days, counters=self.counters,
        )  # fmt: skip
        with self._lock:
            self._runners[spec.id] = runner
            self._finished.discard(spec.id)
        runner.start()
        log.info("worker %s runs camera %s", self.name, spec.name)
        return True

    def release(self, camera_id: int, timeout: float = 10.0) -> bool:
        """Stop a camera; its open tracks become sightings (and alerts) on the way out."""
        with self._lock:
            runner = self._runners.pop(camera_id, None)
            self._finished.discard(camera_id)
        if runner is None:
            return False
        runner.request_stop()
        runner.join(timeout)
        return True

    def report(self) -> WorkerReport:
        with self._lock:
            runners = list(self._runners.items())
        statuses = []
        for camera_id, runner in runners:
            status = runner.status()
            statuses.append(status)
            if status.state == "stopped" and not runner.alive:
                with self._lock:
                    self._finished.add(camera_id)
        now, cpu = time.monotonic(), _cpu_seconds()
        (then, cpu_then), self._cpu = self._cpu, (now, cpu)
        elapsed = now - then
        utilisation = (cpu - cpu_then) / elapsed / self.capacity if elapsed > 0.2 else None
        gallery = self.recogniser.gallery
        with self._lock:
            finished = sorted(self._finished)
        return WorkerReport(
            name=self.name,
            incarnation=self.incarnation,
            node_id=self.node_id,
            pid=os.getpid(),
            capacity=self.capacity,
            utilisation=round(utilisation, 3) if utilisation is not None else None,
            cameras=statuses,
            finished=finished,
            buffer=self.alerts.buffer.stats(),
            gallery_version=gallery.version,
            gallery_size=len(gallery),
        )

    def snapshot(self, camera_id: int) -> bytes | None:
        with self._lock:
            runner = self._runners.get(camera_id)
        return runner.snapshot() if runner is not None else None

    def shutdown(self, timeout: float = 10.0) -> int:
        """Stop every camera (flushing open tracks), write what is buffered; what is left."""
        deadline = time.monotonic() + timeout
        with self._lock:
            runners = list(self._runners.values())
            self._runners.clear()
        for runner in runners:
            runner.request_stop()
        for runner in runners:
            runner.join(max(0.0, deadline - time.monotonic()) * 0.6)
        try:
            self.counters.flush()
        except StoreError:
            log.warning("worker %s: the last activity counts could not be written", self.name)
        left = self.alerts.buffer.close(max(0.5, deadline - time.monotonic()))
        self._closing.set()
        if isinstance(self.inference, InferenceBatcher):
            self.inference.stop()
        self.db.close()
        return left

    # --- inside ----------------------------------------------------------------------------

    def _match(self, sighting: Sighting) -> list[Match]:
        """The recogniser's match; it reads the store only for a camera it does not know
        yet, and if the store is unreachable then, the camera waits for it (backpressure
        for that one camera, rather than a sighting matched against unknown rules)."""
        while True:
            try:
                return self.recogniser.match(sighting)
            except StoreError:
                if self._closing.wait(MATCH_RETRY_S):
                    raise
                log.warning("camera %s: rules cannot be read yet; retrying", sighting.camera)

    def _know_camera(self) -> None:
        """Read the rules now, so that matching a new camera needs no database later."""
        try:
            self.recogniser.refresh(force=True)
        except StoreError as exc:
            log.warning("worker %s: rules not refreshed (%s)", self.name, exc)

    def _housekeep(self) -> None:
        every = self.settings.service.gallery_refresh_s
        while not self._closing.wait(every):
            try:
                self.recogniser.refresh()
            except StoreError as exc:  # unreachable for a while: keep the gallery we have
                log.warning("worker %s: gallery not refreshed (%s)", self.name, exc)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _capacity(node_id: str, cluster: ClusterConfig) -> float:
    """The node's CPUs shared among the camera workers it can hold, as far as a GIL carries."""
    cpus, units = float(os.cpu_count() or 1), 1.0
    for node in ray.nodes():
        if node["NodeID"] == node_id:
            resources = node.get("Resources", {})
            cpus = float(resources.get("CPU", cpus))
            units = float(resources.get(cluster.camera_resource, 1.0))
    return worker_capacity(cpus, units, cluster.gil_share)


def _open_database(url: str, closing: threading.Event) -> Database:
    return _retrying(lambda: Database(url), closing)


def _retrying(make: Any, closing: threading.Event) -> Any:
    """``make()`` until the database lets it: a worker restarted during an outage waits."""
    while True:
        try:
            return make()
        except StoreError as exc:
            log.warning("database not reachable yet (%s); retrying", exc)
            if closing.wait(STARTUP_RETRY_S):
                raise
