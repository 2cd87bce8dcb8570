"""``watchkeeper investigate scan``: search recordings for a case's subject, in parallel, resumably.

:func:`run_scan` first *plans* (in this process): it checks that the case may be searched,
finds the recordings, establishes each one's camera and start time
(``investigations.recordings``), and refuses those outside the case's camera scope or time
window; recordings a previous scan of this case finished are skipped without being opened.
Every recording gets a row in ``case_sources`` that carries its checkpoint; the plan is
audited. Then the pending recordings are scanned (``investigations.scanner``).

**Why processes.** Several recordings are scanned at once, one per worker *process* (spawned,
``investigations.workers``, default one per core), not per thread. Decoding and inference
release the GIL, but the work between them (frame conversion, tracking, alignment, quality,
screening, checkpoints through SQLAlchemy) does not, and threads would queue on it; a process
per recording runs each on its own core with its own single-threaded ONNX sessions, and a
recording that crashes FFmpeg takes down only its worker (the file is reported failed, the
others go on). The price — each worker loads the models once, about a second — is small
against a recording.
Workers are tied to this process (Linux ``PR_SET_PDEATHSIG``): if the scan is killed, even
with SIGKILL, they die with it, so a restarted scan never races an orphan over a checkpoint.
With one worker the scan runs in this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from watchkeeper.config import Settings
from watchkeeper.context import AppContext
from watchkeeper.investigations.cases import check_scope, check_searchable, check_window
from watchkeeper.investigations.errors import CaseRefused, InvestigationError
from watchkeeper.investigations.recordings import Naming, RecordingInfo, discover, inspect
from watchkeeper.investigations.scanner import FileOutcome, RecordingScanner
from watchkeeper.policy import audit
from watchkeeper.store import investigations as store
from watchkeeper.vision import FaceAnalyzer

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """What to scan for which case; ``None`` takes the configured value."""

    case: int | str
    paths: Sequence[Path]
    camera: str | None = None  # for recordings whose name carries none
    start: datetime | None = None  # for recordings whose start is not known otherwise
    sample_fps: float | None = None
    workers: int | None = None
    actor: str | None = None  # who scans (None: the context's actor)


@dataclass(slots=True)
class FileReport:
    """What became of one path of the request."""

    path: str
    state: str  # done, failed, refused, skipped, already done, stopped, not scanned
    reason: str | None = None
    source_id: int | None = None
    frames: int = 0  # declared frames of the recording
    frames_analysed: int = 0
    candidates: int = 0  # new in this scan
    resumed_from: int = 0


@dataclass(slots=True)
class ScanReport:
    case_id: int
    reference: str
    files: list[FileReport]
    candidates: int  # of the case, after this scan
    seconds: float
    workers: int
    stopped: str | None = None  # why the case stopped the scan, if it did

    def json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "reference": self.reference,
            "candidates": self.candidates,
            "seconds": round(self.seconds, 2),
            "workers": self.workers,
            "stopped": self.stopped,
            "files": [asdict(f) for f in self.files],
        }


class ScanProgress(Protocol):
    """Told of the scan as it goes (the command line draws a progress bar from it)."""

    def planned(self, files: list[tuple[int, str, int]]) -> None:
        """(source id, path, declared frames) of every recording about to be scanned."""

    def advanced(self, source_id: int, frame: int) -> None: ...

    def finished(self, report: FileReport) -> None: ...


@dataclass(frozen=True, slots=True)
class _Planned:
    source_id: int
    path: str
    frames: int
    resumed_from: int


@dataclass(slots=True)
class _Plan:
    case_id: int
    reference: str
    actor: str
    pending: list[_Planned] = field(default_factory=list)
    reports: list[FileReport] = field(default_factory=list)


def scan_settings(settings: Settings) -> Settings:
    """The settings a scan runs with: detection sized for recordings."""
    vision = settings.vision.model_copy(
        update={"detection_max_side": settings.investigations.detection_max_side}
    )
    return settings.model_copy(update={"vision": vision})


def run_scan(
    ctx: AppContext,
    request: ScanRequest,
    progress: ScanProgress | None = None,
    analyzer: FaceAnalyzer | None = None,
) -> ScanReport:
    """Plan, then scan every pending recording; see the module docstring.

    Raises ``CaseRefused`` when the case may not be searched or no recording is inside its
    scope and window, ``NotFound`` for an unknown case. ``analyzer`` (one worker only) reuses
    loaded models.
    """
    started = time.perf_counter()
    settings = scan_settings(ctx.settings)
    sample_fps = request.sample_fps or settings.investigations.sample_fps
    plan = _plan(ctx, settings, request, sample_fps)
    workers = min(
        request.workers or settings.investigations.workers or os.cpu_count() or 1,
        max(1, len(plan.pending)),
    )
    if progress is not None:
        progress.planned([(p.source_id, p.path, p.frames) for p in plan.pending])
    stopped = None
    if plan.pending:
        if workers == 1:
            outcomes, stopped = _scan_here(ctx, settings, plan, progress, analyzer)
        else:
            outcomes, stopped = _scan_in_processes(ctx, settings, plan, workers, progress)
        for planned in plan.pending:
            report = _report(planned, outcomes.get(planned.source_id), stopped)
            plan.reports.append(report)
            if progress is not None and planned.source_id not in outcomes:
                progress.finished(report)
    with ctx.db.session(readonly=True) as s:
        total = store.count_candidates(s, plan.case_id)
    order = {r.path: i for i, r in enumerate(plan.reports)}
    return ScanReport(
        plan.case_id, plan.reference, sorted(plan.reports, key=lambda r: order[r.path]),
        total, time.perf_counter() - started, workers, stopped,
    )  # fmt: skip


def _plan(ctx: AppContext, settings: Settings, request: ScanRequest, sample_fps: float) -> _Plan:
    naming = Naming(settings.investigations)
    files, skipped = discover(request.paths)
    with ctx.db.session(readonly=True) as s:
        case = store.get_case(s, request.case)
        check_searchable(case)
        if not store.probes_of(s, case.id):
            raise InvestigationError(
                f"case {case.reference} has no probe photo: add one before searching "
                f"(watchkeeper investigate probe {case.reference} PHOTO)"
            )
        plan = _Plan(case.id, case.reference, request.actor or ctx.actor)
        done = {src.path: src for src in store.sources_of(s, case.id)}
    plan.reports += [FileReport(x.path, "skipped", x.reason) for x in skipped]
    refusals: list[str] = []
    with ctx.db.session() as s:
        case = store.get_case(s, plan.case_id)
        for path in files:
            row = done.get(str(path))
            if row is not None and row.state == "done":
                plan.reports.append(
                    FileReport(str(path), "already done", None, row.id, row.frames or 0)
                )
                continue
            begun = row is not None and row.last_frame >= 0 and row.sample_fps is not None
            if row is not None and begun and row.sample_fps != sample_fps:
                reason = (
                    f"begun at {row.sample_fps:g} frames/s: resume it at that rate "
                    f"(--fps {row.sample_fps:g})"
                )
                plan.reports.append(FileReport(str(path), "refused", reason, row.id))
                continue
            row = row or store.add_source(s, case.id, str(path))
            try:
                info = inspect(path, naming, request.camera, request.start)
                check_scope(case, info.camera, store.camera_group_of(s, info.camera))
                end = info.started_at + timedelta(seconds=info.duration_s)
                check_window(case, info.started_at, end)
            except CaseRefused as exc:
                _set(row, "refused", str(exc))
                refusals.append(str(exc))
                plan.reports.append(FileReport(str(path), "refused", str(exc), row.id))
                continue
            except InvestigationError as exc:
                _set(row, "failed", str(exc))
                plan.reports.append(FileReport(str(path), "failed", str(exc), row.id))
                continue
            _describe(row, info, sample_fps)
            plan.pending.append(_Planned(row.id, str(path), info.frames, row.resume_frame))
        audit.record(
            s,
            actor=plan.actor,
            action="case.scan",
            object_type="case",
            object_id=case.id,
            details={
                "reference": case.reference,
                "sample_fps": sample_fps,
                "recordings": [p.path for p in plan.pending],
                "refused": [r.path for r in plan.reports if r.state == "refused"],
            },
        )
    if refusals and not plan.pending and not any(r.state == "already done" for r in plan.reports):
        raise CaseRefused(refusals[0] if len(refusals) == 1 else f"{refusals[0]} (and others)")
    return plan


def _set(row: store.CaseSource, state: str, error: str | None) -> None:
    row.state, row.error, row.updated_at = state, error, datetime.now(UTC)


def _describe(row: store.CaseSource, info: RecordingInfo, sample_fps: float) -> None:
    row.camera, row.size, row.started_at = info.camera, info.size, info.started_at
    row.time_source, row.fps, row.frames = info.time_source, info.fps, info.frames
    row.sample_fps = sample_fps
    _set(row, "pending", None)


def _report(planned: _Planned, outcome: FileOutcome | None, stopped: str | None) -> FileReport:
    if outcome is None:
        state = "not scanned"
        reason = f"the case ended: {stopped}" if stopped else "the scan was interrupted"
        return FileReport(planned.path, state, reason, planned.source_id, planned.frames)
    return FileReport(
        planned.path, outcome.state, outcome.error, planned.source_id, planned.frames,
        outcome.frames_analysed, outcome.candidates, outcome.resumed_from,
    )  # fmt: skip


# --- in this process -------------------------------------------------------------------------


def _scan_here(
    ctx: AppContext,
    settings: Settings,
    plan: _Plan,
    progress: ScanProgress | None,
    analyzer: FaceAnalyzer | None,
) -> tuple[dict[int, FileOutcome], str | None]:
    scanner = RecordingScanner(
        settings, ctx.db, ctx.media, analyzer or FaceAnalyzer.from_config(settings.vision),
        plan.case_id, plan.actor,
    )  # fmt: skip
    outcomes: dict[int, FileOutcome] = {}
    for planned in plan.pending:
        sid = planned.source_id
        try:
            outcome = scanner.scan(sid, _tell(progress, sid))
        except CaseRefused as exc:
            return outcomes, str(exc)
        outcomes[sid] = outcome
        if progress is not None:
            progress.finished(_report(planned, outcome, None))
        if outcome.state == "stopped":
            return outcomes, outcome.error
    return outcomes, None


def _tell(progress: ScanProgress | None, source_id: int) -> Callable[[int], None] | None:
    if progress is None:
        return None

    def advanced(frame: int) -> None:
        progress.advanced(source_id, frame)

    return advanced


# --- in worker processes ---------------------------------------------------------------------


def _forward(events: Any, source_id: int) -> Callable[[int], None]:
    def advanced(frame: int) -> None:
        events.put(("frame", source_id, frame))

    return advanced


@dataclass(frozen=True, slots=True)
class _WorkerSetup:
    settings: Settings
    case_id: int
    actor: str
    parent: int


def _worker_main(setup: _WorkerSetup, jobs: Any, events: Any) -> None:
    """A worker process: scan recordings from ``jobs`` until a ``None`` or the case ends."""
    _die_with_parent(setup.parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    ctx = AppContext(setup.settings, actor=setup.actor)
    try:
        scanner = RecordingScanner(
            setup.settings, ctx.db, ctx.media, FaceAnalyzer.from_config(setup.settings.vision),
            setup.case_id, setup.actor,
        )  # fmt: skip
        while (source_id := jobs.get()) is not None:
            events.put(("start", source_id, os.getpid()))
            try:
                outcome = scanner.scan(source_id, _forward(events, source_id))
            except CaseRefused as exc:
                events.put(("refused", source_id, str(exc)))
                return
            events.put(("end", source_id, outcome))
            if outcome.state == "stopped":
                events.put(("refused", source_id, outcome.error))
                return
    finally:
        ctx.close()


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when the scan that started it dies (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _scan_in_processes(
    ctx: AppContext,
    settings: Settings,
    plan: _Plan,
    workers: int,
    progress: ScanProgress | None,
) -> tuple[dict[int, FileOutcome], str | None]:
    spawn = multiprocessing.get_context("spawn")
    jobs, events = spawn.Queue(), spawn.Queue()
    setup = _WorkerSetup(settings, plan.case_id, plan.actor, os.getpid())
    for planned in plan.pending:
        jobs.put(planned.source_id)
    processes: list[BaseProcess] = []

    def start_worker() -> None:
        process = spawn.Process(
            target=_worker_main, args=(setup, jobs, events), name="watchkeeper-scan", daemon=True
        )
        process.start()
        processes.append(process)
        jobs.put(None)

    for _ in range(workers):
        start_worker()
    planned_by_id = {p.source_id: p for p in plan.pending}
    outcomes: dict[int, FileOutcome] = {}
    working: dict[int, int] = {}  # pid → source id
    stopped: str | None = None
    started = False
    try:
        while len(outcomes) < len(plan.pending):
            try:
                kind, source_id, payload = events.get(timeout=_POLL_S)
            except queue.Empty:
                died = _reap(ctx, processes, working, outcomes, planned_by_id, progress)
                if died and stopped is None and len(outcomes) < len(plan.pending):
                    start_worker()  # in place of the one that died, for the files left
                if not any(p.is_alive() for p in processes):
                    break
                continue
            if kind == "start":
                working[payload] = source_id
                started = True
            elif kind == "frame" and progress is not None:
                progress.advanced(source_id, payload)
            elif kind == "end":
                outcomes[source_id] = payload
                working = {pid: sid for pid, sid in working.items() if sid != source_id}
                if progress is not None:
                    progress.finished(_report(planned_by_id[source_id], payload, None))
            elif kind == "refused":
                stopped = stopped or payload
    except BaseException:
        for process in processes:
            process.terminate()
        raise
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        jobs.close()
        events.close()
    if not outcomes and stopped is None and not working and not started:
        codes = ", ".join(str(p.exitcode) for p in processes)
        raise InvestigationError(
            f"the scan's worker processes ended before scanning anything (exit codes {codes}); "
            "see the log, or scan with --workers 1"
        )
    return outcomes, stopped


def _reap(
    ctx: AppContext,
    processes: list[BaseProcess],
    working: dict[int, int],
    outcomes: dict[int, FileOutcome],
    planned: dict[int, _Planned],
    progress: ScanProgress | None,
) -> bool:
    """Report the recording of a worker that died mid-file as failed; True if one did."""
    died = False
    for process in processes:
        if process.is_alive() or process.pid not in working:
            continue
        source_id = working.pop(process.pid)  # type: ignore[arg-type]
        reason = f"the process reading it died (exit code {process.exitcode})"
        path = planned[source_id].path
        outcomes[source_id] = FileOutcome(source_id, path, "failed", error=reason)
        with ctx.db.session() as s:
            _set(store.get_source(s, source_id), "failed", reason)
        log.error("%s: %s", planned[source_id].path, reason)
        if progress is not None:
            progress.finished(_report(planned[source_id], outcomes[source_id], None))
        died = True
    return died
