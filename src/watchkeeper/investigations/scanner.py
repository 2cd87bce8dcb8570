"""Scanning one recording for a case's subject, with checkpoints that make it resumable.

The frames go through the live pipeline (``pipeline.CameraPipeline``: detect, track, embed the
best faces of a track, screened against the subject) and every closed track is decided
against the case's probes (``matcher.ProbeMatcher``). Only tracks that resemble the subject
are written — their crop and where and when — as *candidates*; every other face leaves
nothing behind, exactly as in live operation.

**Checkpoints.** Every ``checkpoint_s`` seconds, and whenever a candidate is found, the
source's row records the last frame analysed and a *resume point*: the most recent frame after
which no track was open, with the number of tracks begun before it. A resumed scan decodes
from the start but analyses nothing before the resume point, starts its tracker empty there
(as the first run's was) and numbers its tracks after those begun before: it sees the same
frames in the same state, so it finds the same tracks under the same numbers. Candidates are
keyed by case, recording and track number, so the ones found again are not stored twice. A
finished recording is marked done and is never opened again by this case.

**The case is asked at every frame.** Before each frame is analysed the case is read again;
once it is closed or expired (or was never approved) the scan stops with :class:`CaseRefused`.
Frames outside the case's time window are not analysed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchkeeper.config import Settings
from watchkeeper.domain import Frame
from watchkeeper.investigations.cases import check_searchable
from watchkeeper.investigations.errors import CaseRefused
from watchkeeper.investigations.matcher import ProbeMatcher, Resemblance
from watchkeeper.investigations.recordings import sha256_file
from watchkeeper.pipeline import CameraPipeline, motion_gated
from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore
from watchkeeper.store import investigations as store
from watchkeeper.store.investigations import Case, CaseCandidate, CaseSource
from watchkeeper.streams import RewindableSource, SourceError, open_source
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import encode_jpeg

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the index of each frame analysed


@dataclass(slots=True)
class FileOutcome:
    """How the scan of one recording ended."""

    source_id: int
    path: str
    state: str  # done, failed, stopped
    frames_analysed: int = 0
    candidates: int = 0  # new in this run
    error: str | None = None
    resumed_from: int = 0


@dataclass(slots=True)
class _Checkpoint:
    last_frame: int = -1
    resume_frame: int = 0
    resume_tracks: int = 0
    pending: list[Resemblance] = field(default_factory=list)
    written_at: float = field(default_factory=time.monotonic)


class RecordingScanner:
    """Scans the recordings of one case, one at a time (one per worker process)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        media: MediaStore,
        analyzer: FaceAnalyzer,
        case_id: int,
        actor: str,
    ) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.analyzer = analyzer
        self.case_id = case_id
        self.actor = actor
        with db.session(readonly=True) as s:
            case = store.get_case(s, case_id)
            ids, vectors = store.probe_templates(s, case_id, analyzer.model, media.cipher)
            self.threshold = case.threshold
        self.matcher = ProbeMatcher(
            ids, vectors, analyzer.model, self.threshold,
            fusion=settings.matching.fusion,
            screening_margin=settings.matching.screening_margin,
        )  # fmt: skip

    def scan(self, source_id: int, progress: Progress | None = None) -> FileOutcome:
        """Scan one planned recording from its checkpoint to its end, or until the case ends
        (state ``stopped``). Raises ``CaseRefused`` if the case may not be searched at all."""
        self._case()  # refused before the file is even opened
        with self.db.session(readonly=True) as s:
            row = store.get_source(s, source_id)
        outcome = FileOutcome(source_id, row.path, "done", resumed_from=row.resume_frame)
        if row.sha256 is None:  # the first reading of the file: its fingerprint for evidence
            self._set_sha(source_id, sha256_file(Path(row.path)))
        assert row.started_at is not None and row.fps and row.camera and row.sample_fps
        started, fps, camera = row.started_at, row.fps, row.camera
        point = _Checkpoint(row.last_frame, row.resume_frame, row.resume_tracks)
        base = row.resume_tracks
        # recorded scenes are mostly still: the detector runs where the picture changed
        gated = motion_gated(self.analyzer, self.settings.motion, row.sample_fps)
        pipeline = CameraPipeline(
            camera, gated, self.settings.tracking,
            self.settings.vision.min_quality, self.matcher.screen,
        )  # fmt: skip
        streams = self.settings.streams
        try:
            source = open_source(
                row.path, camera, row.sample_fps, max_image_pixels=streams.max_image_pixels,
                decode_threads=1, skip_nonref=streams.skip_nonref,
            )  # fmt: skip
            rewindable = source if isinstance(source, RewindableSource) else None
            for frame in source.frames():
                if frame.index < point.resume_frame:
                    continue
                case = self._case()
                moment = started + timedelta(seconds=frame.index / fps)
                if moment >= case.window_end:
                    break
                if moment < case.window_start:
                    continue
                if rewindable and pipeline.woken_by(frame.image) and rewindable.rewind():
                    continue  # the frames since the key frame before come first
                sightings = pipeline.process(
                    Frame(camera, frame.index, moment.timestamp(), frame.image)
                )
                point.pending += self.matcher.resemblances(sightings)
                outcome.frames_analysed += 1
                point.last_frame = frame.index
                if not pipeline.tracker.tracks:
                    point.resume_frame = frame.index + 1
                    point.resume_tracks = base + pipeline.stats.tracks_closed
                if point.pending or self._due(point):
                    outcome.candidates += self._write(row, base, point, "pending")
                if progress is not None:
                    progress(frame.index)
                if rewindable is not None:
                    rewindable.key_frames_only(pipeline.resting)
        except KeyboardInterrupt:  # Ctrl-C: keep what was done, to resume from it
            self._write(row, base, point, "pending")
            raise
        except SourceError as exc:
            outcome.state, outcome.error = "failed", str(exc)
        except CaseRefused as exc:
            outcome.state, outcome.error = "stopped", str(exc)
        if outcome.state != "stopped":  # once the case ended, not even open tracks are decided
            point.pending += self.matcher.resemblances(pipeline.finish())
        outcome.candidates += self._write(row, base, point, outcome.state, outcome.error)
        return outcome

    def _case(self) -> Case:
        """The case as it stands now; raises ``CaseRefused`` once it may not be searched."""
        with self.db.session(readonly=True) as session:
            case = store.get_case(session, self.case_id)
        check_searchable(case)
        return case

    def _due(self, point: _Checkpoint) -> bool:
        return time.monotonic() - point.written_at >= self.settings.investigations.checkpoint_s

    def _set_sha(self, source_id: int, sha: str) -> None:
        with self.db.session() as s:
            store.get_source(s, source_id).sha256 = sha

    def _write(
        self,
        row: CaseSource,
        base: int,
        point: _Checkpoint,
        state: str,
        error: str | None = None,
    ) -> int:
        """Store the candidates found since the last checkpoint and the new checkpoint."""
        added = 0
        with self.media.transaction() as files, self.db.session() as s:
            for found in point.pending:
                added += store.add_candidate(s, self._candidate(row, base, found, files.put))
            source = store.get_source(s, row.id)
            source.last_frame = max(source.last_frame, point.last_frame)
            source.resume_frame, source.resume_tracks = point.resume_frame, point.resume_tracks
            source.state, source.error, source.updated_at = state, error, datetime.now(UTC)
            if state != "pending":
                audit.record(
                    s,
                    actor=self.actor,
                    action="case.scan.file",
                    object_type="case",
                    object_id=self.case_id,
                    reason=error,
                    details={
                        "path": row.path, "sha256": source.sha256, "state": state,
                        "last_frame": source.last_frame,
                        "candidates": store.count_candidates(s, self.case_id),
                    },
                )  # fmt: skip
        point.pending.clear()
        point.written_at = time.monotonic()
        return added

    def _candidate(
        self, row: CaseSource, base: int, found: Resemblance, put: Callable[[bytes, str], str]
    ) -> CaseCandidate:
        sighting = found.sighting
        track = base + sighting.track_id
        return CaseCandidate(
            case_id=self.case_id,
            key=f"rec:{row.id}:{track}",
            kind="recording",
            source_id=row.id,
            camera=sighting.camera,
            track_id=track,
            first_frame=sighting.first_frame,
            last_frame=sighting.last_frame,
            best_frame=sighting.best_frame,
            detections=sighting.detections,
            started_at=datetime.fromtimestamp(sighting.started_at, UTC),
            ended_at=datetime.fromtimestamp(sighting.ended_at, UTC),
            score=float(found.score),
            threshold=self.threshold,
            probe_id=found.probe_id,
            model=sighting.model,
            crop_sha256=put(encode_jpeg(sighting.best_crop), ".jpg"),
            box=[float(v) for v in sighting.best_box],
            quality=float(sighting.best_quality),
        )
