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
from watchkeeper.domain import FloatArray, Frame, Observation, Sighting
from watchkeeper.pipeline.tracker import FaceTracker, Track
from watchkeeper.vision import FaceAnalyzer

# Given the first template of each closing track (N, D), which tracks deserve more templates.
Screen = Callable[[FloatArray], npt.NDArray[np.bool_]]

EARLY_GAIN = 0.1  # an open track is screened again only when its best face got this much better


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
    early_sightings: int = 0
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
        early_after: int = 0,
        early_looks: int = 3,
    ) -> None:
        self.camera = camera
        self.analyzer = analyzer
        self.tracker = FaceTracker(tracking, min_quality)
        self.screen = screen
        self.early_after = early_after
        self.early_looks = early_looks
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
        return self._early() + self._close(closed)

    def finish(self) -> list[Sighting]:
        """Close all open tracks: the source ended or the camera is stopping."""
        return self._close(self.tracker.flush())

    def _early(self) -> list[Sighting]:
        """Sightings of open tracks whose first good faces already look like someone listed.

        A live alert should not wait for the person to leave the picture: once a track has
        ``early_after`` detections, its best face so far is embedded and screened, and a
        track that may match is reported at once (its final sighting follows at close; alerts
        fold the two). A person's first faces are often small or turned, so a track that
        screens as nobody is looked at again when a clearly better face arrives
        (``EARLY_GAIN``), up to ``early_looks`` times in all. So is a track already reported:
        a face that screened near a threshold may still have missed it, and a report that did
        match folds into the same alert.
        """
        if not self.early_after or self.screen is None:
            return []
        ready = [
            t
            for t in self.tracker.tracks
            if t.early_looks < self.early_looks
            and t.detections >= self.early_after
            and t.best
            and max(entry[0] for entry in t.best) >= t.early_quality + EARLY_GAIN
        ]
        if not ready:
            return []
        groups = [self._ranked(t) for t in ready]
        for track, group in zip(ready, groups, strict=True):
            track.early_looks += 1
            track.early_quality = group[0].quality
        self._embed_missing([group[0] for group in groups])
        firsts = np.stack([group[0].template for group in groups])  # type: ignore[misc]
        wanted = self.screen(firsts)
        candidates = [(t, g[:1]) for t, g, w in zip(ready, groups, wanted, strict=True) if w]
        self.stats.early_sightings += len(candidates)
        return [self._sighting(track, used) for track, used in candidates]

    @staticmethod
    def _ranked(track: Track) -> list[Observation]:
        return [entry[2] for entry in sorted(track.best, key=lambda e: -e[0])]

    def _embed_missing(self, observations: list[Observation]) -> None:
        """Embed, in one batch, the observations that have no template yet."""
        missing = [o for o in observations if o.template is None]
        if not missing:
            return
        started = time.perf_counter()
        vectors = self.analyzer.embed(np.stack([o.aligned for o in missing]))
        self.stats.embed_s += time.perf_counter() - started
        self.stats.embedded += len(missing)
        for observation, vector in zip(missing, vectors, strict=True):
            observation.template = vector

    def _close(self, tracks: list[Track]) -> list[Sighting]:
        self.stats.tracks_closed += len(tracks)
        usable = [t for t in tracks if t.best and t.best_crop is not None]
        self.stats.unusable_tracks += len(tracks) - len(usable)
        if not usable:
            return []
        groups = [self._ranked(t) for t in usable]
        # The best face of every track first; the others only where screening says they
        # could change the decision (a clear non-match needs no second look).
        self._embed_missing([group[0] for group in groups])
        firsts = np.stack([group[0].template for group in groups])  # type: ignore[misc]
        wanted = self.screen(firsts) if self.screen else np.ones(len(groups), bool)
        chosen = [group if more else group[:1] for group, more in zip(groups, wanted, strict=True)]
        self._embed_missing([o for group in chosen for o in group[1:]])
        sightings = [self._sighting(t, used) for t, used in zip(usable, chosen, strict=True)]
        for track in usable:
            track.best.clear()  # the aligned faces have served their purpose
        self.stats.sightings += len(sightings)
        return sightings

    def _sighting(self, track: Track, used: list[Observation]) -> Sighting:
        assert track.best_crop is not None and track.best_crop_box is not None
        return Sighting(
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
            templates=np.stack([o.template for o in used]),  # type: ignore[misc]
            model=self.analyzer.model,
            template_frames=[o.frame_index for o in used],
        )
