"""The scheduler: which worker runs which camera, kept true while workers come and go.

It runs on the driver (the ``serve --cluster`` process) as one thread that, every
``cluster.report_interval_s``:

1. asks every worker for its report (without waiting for one that does not answer);
2. counts a worker that has not answered for ``cluster.worker_lost_after_s`` as lost, and
   gives its cameras to the others (Ray restarts the worker meanwhile, on any node that
   offers the camera resource; it comes back empty and is used again);
3. reads the cameras from the store (every :data:`CAMERA_POLL_S`, or at once after
   :meth:`Scheduler.refresh`): new ones are placed, removed or disabled ones released;
4. reconciles: a worker that lacks a camera it owns is told to run it, a worker that runs a
   camera it does not own (say, one that was only slow to answer) is told to stop it;
5. relieves workers that are saturated and fall behind (``placement.relieve``).

The decision is the scheduler's alone, and it is made from what workers report, so it
converges whatever was lost: at worst a camera runs on two workers for one round, which
yields duplicate sightings that alert folding absorbs, never a gap.

A video file that was read to its end is remembered as finished and not run again; a file
whose worker died half way is read again from the start by its new worker.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayActorError

from watchkeeper.cluster import placement
from watchkeeper.cluster.worker import WorkerReport
from watchkeeper.config import ClusterConfig
from watchkeeper.service.camera import CameraSpec
from watchkeeper.store import Database, StoreError
from watchkeeper.store import cameras as camera_store
from watchkeeper.usecases.runtime import CameraStatus

log = logging.getLogger(__name__)

CAMERA_POLL_S = 5.0
STALE_CALL_S = 30.0  # a report call pending this long is given up and asked again
MOVES_KEPT = 1000


@dataclass(frozen=True, slots=True)
class Move:
    """A camera given to a worker: first placement, or a move away from another."""

    camera_id: int
    camera: str
    source: str | None
    target: str
    reason: str  # "new", "worker lost", "rebalance"
    at: float  # time.time()


@dataclass(slots=True)
class WorkerSlot:
    """One worker actor as the scheduler tracks it."""

    name: str
    handle: Any
    report: WorkerReport | None = None
    last_seen: float = 0.0  # monotonic time of the last report
    lost: bool = False
    restarts_seen: int = 0  # new incarnations observed
    pending: Any = None  # the report call in flight
    asked_at: float = 0.0
    calls: dict[int, Any] = field(default_factory=dict)  # camera id → assign/release in flight


class Scheduler:
    """Assigns the store's enabled cameras to the workers by measured load."""

    def __init__(self, db: Database, workers: dict[str, Any], config: ClusterConfig) -> None:
        self.db = db
        self.config = config
        self.slots = {name: WorkerSlot(name, handle) for name, handle in workers.items()}
        self.owner: dict[int, str] = {}  # camera id → worker name
        self.specs: dict[int, CameraSpec] = {}
        self.finished: set[int] = set()
        self.moves: list[Move] = []
        self._rested_until: dict[int, float] = {}
        self._cameras_read = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._refresh = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    # --- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self._started = time.monotonic()
        for slot in self.slots.values():
            slot.last_seen = self._started  # a grace period to report for the first time
        self._thread = threading.Thread(target=self._run, name="cluster-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._refresh.set()
        if self._thread is not None:
            self._thread.join(10)

    def refresh(self) -> None:
        """Read the cameras from the store at the next round (a camera was changed)."""
        self._cameras_read = 0.0
        self._refresh.set()

    # --- what the runtime and the API ask --------------------------------------------------

    def status(self, camera_id: int) -> CameraStatus | None:
        with self._lock:
            spec = self.specs.get(camera_id)
            owner = self.owner.get(camera_id)
            report = self.slots[owner].report if owner in self.slots else None
        if spec is None:
            return None
        if not spec.enabled:
            return CameraStatus(spec.id, spec.name, "disabled")
        for status in report.cameras if report is not None else []:
            if status.camera_id == camera_id:
                return status
        state = "stopped" if camera_id in self.finished else "starting"
        return CameraStatus(spec.id, spec.name, state, reason=f"worker {owner}" if owner else None)

    def statuses(self) -> list[CameraStatus]:
        with self._lock:
            ids = sorted(self.specs)
        return [s for cid in ids if (s := self.status(cid)) is not None]

    def worker_of(self, camera_id: int) -> Any:
        with self._lock:
            owner = self.owner.get(camera_id)
            return self.slots[owner].handle if owner in self.slots else None

    def assignments(self) -> dict[int, str]:
        with self._lock:
            return dict(self.owner)

    def view(self) -> dict[str, Any]:
        """Workers, their cameras and figures, and recent moves (for status and tests)."""
        with self._lock:
            workers = [
                {
                    "name": s.name,
                    "alive": not s.lost and s.report is not None,
                    "node_id": s.report.node_id if s.report else None,
                    "restarts_seen": s.restarts_seen,
                    "utilisation": s.report.utilisation if s.report else None,
                    "cameras": sorted(c for c, o in self.owner.items() if o == s.name),
                }
                for s in self.slots.values()
            ]
            moves = [m for m in self.moves[-50:]]
        return {"workers": workers, "moves": moves}

    # --- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.round()
            except Exception:  # one bad round must not end the scheduling
                log.exception("scheduler round failed")
            wait = self.config.report_interval_s - (time.monotonic() - started)
            if wait > 0:
                self._refresh.wait(wait)
            self._refresh.clear()

    def round(self) -> None:
        """One pass: reports in, losses handled, cameras read, placement, reconciliation."""
        self._collect()
        now = time.monotonic()
        with self._lock:
            for slot in self.slots.values():
                silent = now - slot.last_seen > self.config.worker_lost_after_s
                if silent and not slot.lost:
                    self._lose(slot, now - slot.last_seen)
            if now - self._cameras_read >= CAMERA_POLL_S:
                self._read_cameras()
            self._place()
            self._rebalance()
        self._reconcile()

    def _collect(self) -> None:
        now = time.monotonic()
        for slot in self.slots.values():
            if slot.pending is not None and now - slot.asked_at > STALE_CALL_S:
                slot.pending = None
            if slot.pending is None:
                slot.pending = slot.handle.report.remote()
                slot.asked_at = now
        pending = [s.pending for s in self.slots.values() if s.pending is not None]
        ready, _ = ray.wait(
            pending, num_returns=len(pending), timeout=self.config.report_interval_s / 2
        )
        done = set(ready)
        for slot in self.slots.values():
            if slot.pending is None or slot.pending not in done:
                continue
            ref, slot.pending = slot.pending, None
            try:
                report: WorkerReport = ray.get(ref)
            except RayActorError as exc:
                log.debug("worker %s did not report: %s", slot.name, exc)
                continue
            with self._lock:
                self._receive(slot, report)

    def _receive(self, slot: WorkerSlot, report: WorkerReport) -> None:
        if slot.report is not None and slot.report.incarnation != report.incarnation:
            slot.restarts_seen += 1
            log.warning("worker %s was restarted (now pid %d)", slot.name, report.pid)
            slot.calls.clear()
        if slot.lost:
            log.info("worker %s is back on node %s", slot.name, report.node_id[:8])
        slot.report, slot.last_seen, slot.lost = report, time.monotonic(), False
        for camera_id in report.finished:
            if self.owner.get(camera_id) == slot.name:
                self.finished.add(camera_id)

    def _lose(self, slot: WorkerSlot, silent_s: float) -> None:
        slot.lost = True
        orphans = [c for c, owner in self.owner.items() if owner == slot.name]
        log.warning(
            "worker %s lost (silent for %.1f s); moving %d cameras", slot.name, silent_s,
            len(orphans),
        )  # fmt: skip
        for camera_id in orphans:
            del self.owner[camera_id]
        slot.calls.clear()

    def _read_cameras(self) -> None:
        try:
            with self.db.session(readonly=True) as s:
                specs = {
                    row.id: CameraSpec.from_row(row, self.db.cipher)
                    for row in camera_store.list_cameras(s)
                }
        except StoreError as exc:  # keep the cameras we know until the store answers
            log.warning("cameras not read from the store: %s", exc)
            return
        self._cameras_read = time.monotonic()
        for camera_id, spec in specs.items():
            old = self.specs.get(camera_id)
            if old is not None and old != spec:
                self.finished.discard(camera_id)  # changed (a new file?): run it again
        for camera_id in set(self.owner) - {c for c, s in specs.items() if s.enabled}:
            del self.owner[camera_id]
        self.specs = specs

    def _loads(self) -> list[placement.WorkerLoad]:
        loads = []
        for slot in self.slots.values():
            if slot.lost or slot.report is None:
                continue
            fps = {
                c: self.specs[c].analysis_fps
                for c, owner in self.owner.items()
                if owner == slot.name and c in self.specs and c not in self.finished
            }
            behind = [
                s.camera_id
                for s in slot.report.cameras
                if s.lag_s is not None
                and s.state == "connected"
                and s.frames_analysed >= 10
                and s.fps_analysed < placement.BEHIND_RATE * fps.get(s.camera_id, 0.0)
            ]
            loads.append(
                placement.WorkerLoad(
                    slot.name, slot.report.capacity, fps, slot.report.utilisation, behind
                )
            )
        return loads

    def _place(self) -> None:
        unplaced = [
            spec
            for cid, spec in sorted(self.specs.items())
            if spec.enabled and cid not in self.owner and cid not in self.finished
        ]
        if not unplaced:
            return
        waiting = any(not s.lost and s.report is None for s in self.slots.values())
        if waiting and time.monotonic() - self._started < self.config.worker_lost_after_s:
            return  # let every worker report once, so that the first placement is even
        loads = self._loads()
        if not loads:
            return
        cost = placement.core_seconds_per_frame(loads)
        for spec in unplaced:
            target = placement.pick(loads, spec.analysis_fps, cost)
            assert target is not None
            target.fps[spec.id] = spec.analysis_fps
            self._give(spec, None, target.name, "new")

    def _rebalance(self) -> None:
        loads = self._loads()
        now = time.monotonic()

        def may_move(camera_id: int) -> bool:
            return self._rested_until.get(camera_id, 0.0) <= now

        for camera_id, source, target in placement.relieve(
            loads, placement.core_seconds_per_frame(loads), may_move
        ):
            self._give(self.specs[camera_id], source, target, "rebalance")

    def _give(self, spec: CameraSpec, source: str | None, target: str, reason: str) -> None:
        previous = source
        if previous is None:
            previous = next(
                (m.target for m in reversed(self.moves) if m.camera_id == spec.id), None
            )
            if previous is not None:
                reason = "worker lost"
        self.owner[spec.id] = target
        self._rested_until[spec.id] = time.monotonic() + self.config.rebalance_cooldown_s
        move = Move(spec.id, spec.name, previous, target, reason, time.time())
        self.moves = [*self.moves[-MOVES_KEPT:], move]
        log.info("camera %s → worker %s (%s)", spec.name, target, reason)

    def _reconcile(self) -> None:
        with self._lock:
            plans = []
            for slot in self.slots.values():
                if slot.lost or slot.report is None:
                    continue
                owned = {
                    c: self.specs[c]
                    for c, owner in self.owner.items()
                    if owner == slot.name and c in self.specs
                }
                running = {s.camera_id for s in slot.report.cameras}
                plans.append((slot, owned, running))
        for slot, owned, running in plans:
            self._settle_calls(slot)
            for camera_id, spec in owned.items():
                missing = camera_id not in running and camera_id not in self.finished
                if missing and camera_id not in slot.calls:
                    slot.calls[camera_id] = slot.handle.assign.remote(spec)
            for camera_id in running:  # a finished file stays, with its last figures
                if camera_id not in owned and camera_id not in slot.calls:
                    slot.calls[camera_id] = slot.handle.release.remote(camera_id)

    def _settle_calls(self, slot: WorkerSlot) -> None:
        """Forget calls that completed; a failed one is simply made again next round."""
        if not slot.calls:
            return
        refs = list(slot.calls.values())
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        done = set(ready)
        for camera_id, ref in list(slot.calls.items()):
            if ref in done:
                del slot.calls[camera_id]
                try:
                    ray.get(ref)
                except Exception as exc:  # the worker died or the camera could not start
                    log.warning("worker %s, camera %d: %s", slot.name, camera_id, exc)
