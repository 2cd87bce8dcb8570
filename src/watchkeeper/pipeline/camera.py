"""One camera's frames in, closed sightings out: detect → track → embed the best frames.

Embedding is the expensive step (about 34 ms per face on a CPU core), so it is done when a
track closes, in one batch for every track that closed on the same frame, and sparingly: the
track's best face first, and its next ``best_k - 1`` best faces only when a ``screen`` says the
first left the decision open (a score near or above some watchlist's threshold). Most people a
camera sees are nobody on any list and score far below every threshold, so they cost one
embedding each. Faces of tracks that never reach the minimum quality are never embedded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchkeeper.config import TrackingConfig
from watchkeeper.domain import FloatArray, Frame, Sighting
from watchkeeper.pipeline.tracker import FaceTracker, Track
from watchkeeper.vision import FaceAnalyzer

# Given the first template of each closing track (N, D), which tracks deserve more templates.
Screen = Callable[[FloatArray], npt.NDArray[np.bool_]]


@dataclass(slots=True)
class PipelineStats:
    """Counts and timings of one camera's pipeline: what the transparency report and
    benchmarks read. Counts only: nothing here identifies anyone."""

    frames: int = 0
    faces: int = 0
    embedded: int = 0
    tracks_closed: int = 0
    unusable_tracks: int = 0
    sightings: int = 0
    detect_s: float = 0.0
    embed_s: float = 0.0
    faces_per_frame: list[int] = field(default_factory=list)


class CameraPipeline:
    """Turns the analysed frames of one camera into sightings."""

    def __init__(
        self,
        camera: str,
        analyzer: FaceAnalyzer,
        tracking: TrackingConfig,
        min_quality: float,
        screen: Screen | None = None,
    ) -> None:
        self.camera = camera
        self.analyzer = analyzer
        self.tracker = FaceTracker(tracking, min_quality)
        self.screen = screen
        self.stats = PipelineStats()

    def process(self, frame: Frame) -> list[Sighting]:
        started = time.perf_counter()
        analysed = self.analyzer.analyse(frame.image)
        self.stats.detect_s += time.perf_counter() - started
        self.stats.frames += 1
        self.stats.faces += len(analysed.faces)
        self.stats.faces_per_frame.append(len(analysed.faces))
        closed = self.tracker.update(
            frame.index, frame.timestamp, frame.image, analysed.faces, analysed.aligned
        )
        return self._close(closed)

    def finish(self) -> list[Sighting]:
        """Close all open tracks: the source ended or the camera is stopping."""
        return self._close(self.tracker.flush())

    def _embed(self, crops: list[np.ndarray]) -> FloatArray:
        if not crops:
            return np.zeros((0, 0), np.float32)
        started = time.perf_counter()
        vectors = self.analyzer.embed(np.stack(crops))
        self.stats.embed_s += time.perf_counter() - started
        self.stats.embedded += len(crops)
        return vectors

    def _close(self, tracks: list[Track]) -> list[Sighting]:
        self.stats.tracks_closed += len(tracks)
        usable = [t for t in tracks if t.best and t.best_crop is not None]
        self.stats.unusable_tracks += len(tracks) - len(usable)
        if not usable:
            return []
        groups = [[entry[2] for entry in sorted(t.best, key=lambda e: -e[0])] for t in usable]
        # The best face of every track first; the others only where screening says they
        # could change the decision (a clear non-match needs no second look).
        firsts = self._embed([group[0].aligned for group in groups])
        wanted = self.screen(firsts) if self.screen else np.ones(len(groups), bool)
        rest = self._embed(
            [
                o.aligned
                for group, more in zip(groups, wanted, strict=True)
                if more
                for o in group[1:]
            ]
        )
        sightings = []
        offset = 0
        for index, (track, group) in enumerate(zip(usable, groups, strict=True)):
            used = group if wanted[index] else group[:1]
            extra = rest[offset : offset + len(used) - 1]
            offset += len(used) - 1
            templates = np.concatenate(
                [firsts[index : index + 1], extra.reshape(-1, firsts.shape[1])]
            )
            assert track.best_crop is not None and track.best_crop_box is not None
            sightings.append(
                Sighting(
                    camera=self.camera,
                    track_id=track.track_id,
                    started_at=track.started_at,
                    ended_at=track.ended_at,
                    first_frame=track.first_frame,
                    last_frame=track.last_frame,
                    detections=track.detections,
                    best_frame=track.best_crop_frame,
                    best_box=track.best_crop_box,
                    best_crop=track.best_crop,
                    best_quality=track.best_crop_quality,
                    templates=templates,
                    model=self.analyzer.model,
                    template_frames=[o.frame_index for o in used],
                )
            )
            # the aligned faces have served their purpose: let them go with the track
            track.best.clear()
        self.stats.sightings += len(sightings)
        return sightings
