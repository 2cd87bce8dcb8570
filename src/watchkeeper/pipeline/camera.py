"""One camera's frames in, closed sightings out: detect → track → embed the best frames.

Embedding is the expensive step (tens of milliseconds per face on a CPU core), so it is done
once per track for its ``best_k`` best-quality faces, when the track closes, in one batch for
every track that closed on the same frame. Faces of tracks that never reach the minimum
quality are never embedded at all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from watchkeeper.config import TrackingConfig
from watchkeeper.domain import Frame, Sighting
from watchkeeper.pipeline.tracker import FaceTracker, Track
from watchkeeper.vision import FaceAnalyzer


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
        self, camera: str, analyzer: FaceAnalyzer, tracking: TrackingConfig, min_quality: float
    ) -> None:
        self.camera = camera
        self.analyzer = analyzer
        self.tracker = FaceTracker(tracking, min_quality)
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

    def _close(self, tracks: list[Track]) -> list[Sighting]:
        self.stats.tracks_closed += len(tracks)
        usable = [t for t in tracks if t.best and t.best_crop is not None]
        self.stats.unusable_tracks += len(tracks) - len(usable)
        if not usable:
            return []
        observations = [sorted(t.best, key=lambda e: -e[0]) for t in usable]
        crops = np.stack([entry[2].aligned for group in observations for entry in group])
        started = time.perf_counter()
        vectors = self.analyzer.embed(crops)
        self.stats.embed_s += time.perf_counter() - started
        self.stats.embedded += len(crops)
        sightings = []
        offset = 0
        for track, group in zip(usable, observations, strict=True):
            templates = vectors[offset : offset + len(group)]
            offset += len(group)
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
                    template_frames=[entry[1] for entry in group],
                )
            )
            # the aligned faces have served their purpose: let them go with the track
            track.best.clear()
        self.stats.sightings += len(sightings)
        return sightings
