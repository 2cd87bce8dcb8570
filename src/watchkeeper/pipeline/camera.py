"""One camera's frames in, closed sightings out: detect → track → embed chosen frames.

Embedding is the expensive step (about 34 ms per face on a CPU core), so it is done when a
track closes, in one batch for every track that closed on the same frame, and sparingly: the
track's best face first — always, whatever its quality score, so that no face that could match
is lost to a heuristic (``pipeline.selection``) — and the best faces of the other parts of its
life only when a ``screen`` says the first left the decision open (a score near or above some
watchlist's threshold). Most people a camera sees are nobody on any list and score far below
every threshold, so they cost one embedding each.

Two guards keep a sighting to one person: a shot change or camera jump ends every open track
(``pipeline.scenecut``), and a track whose embedded faces disagree is split into parts
(``pipeline.split``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchkeeper.config import TrackingConfig
from watchkeeper.domain import FloatArray, Frame, ImageArray, Observation, Sighting
from watchkeeper.pipeline.motion import Analyzer, MotionGatedAnalyzer
from watchkeeper.pipeline.scenecut import SceneCut
from watchkeeper.pipeline.selection import Moment
from watchkeeper.pipeline.split import split_parts
from watchkeeper.pipeline.tracker import FaceTracker, Track

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
    tracks_closed: int = 0  # tracks and, after a split, their parts: the track numbers used
    scene_cuts: int = 0
    split_tracks: int = 0
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
        analyzer: Analyzer,
        tracking: TrackingConfig,
        min_quality: float,
        screen: Screen | None = None,
        early_after: int = 0,
        early_looks: int = 3,
        gate: MotionGatedAnalyzer | None = None,
    ) -> None:
        self.camera = camera
        self.analyzer = analyzer
        if gate is None and isinstance(analyzer, MotionGatedAnalyzer):
            gate = analyzer  # given apart only where the gate is wrapped (a camera's filter)
        self.gate = gate
        self.tracker = FaceTracker(tracking)
        self.scenecut = SceneCut(tracking.scene_cut_similarity)
        self.tracking = tracking
        self.min_quality = min_quality
        self.screen = screen
        self.early_after = early_after
        self.early_looks = early_looks
        self.stats = PipelineStats()
        self._ended: list[Track] = []  # tracks ended, not yet closed
        self._cut_off: list[Track] = []  # tracks a scene cut ended, closed after the next frame

    def process(self, frame: Frame) -> list[Sighting]:
        """Every sighting of one frame: the early ones of tracks still open, then those of the
        tracks that ended (a scene cut's, one frame later)."""
        return self.advance(frame) + self.close_ended()

    def advance(self, frame: Frame) -> list[Sighting]:
        """Analyse and track one frame; the early sightings of tracks still open.

        The tracks the frame ended wait for :meth:`close_ended`, so that a caller can match
        and report whoever is still in view before the work for those who left. A scene cut
        ends every open track at once, and closing them (their embeddings: 0.35–0.48 s on a
        slow CPU, measured on the live alert bench) would hold up the next frame and with it
        the first look at the people of the new picture: the tracks a cut ended wait one
        frame more and are closed after that frame's early sightings.
        """
        started = time.perf_counter()
        analysed = self.analyzer.analyse(frame.image)
        self.stats.detect_s += time.perf_counter() - started
        self.stats.frames += 1
        self.stats.faces += len(analysed.faces)
        self.stats.faces_per_frame.append(len(analysed.faces))
        cut = self.scenecut.update(frame.image)
        self.stats.scene_cuts += cut
        self._ended += self._cut_off
        self._cut_off = self.tracker.flush() if cut else []
        self._ended += self.tracker.update(
            frame.index, frame.timestamp, frame.image, analysed.faces, analysed.aligned
        )
        return self._early()

    def close_ended(self) -> list[Sighting]:
        """The sightings of the tracks ended by the frames advanced since the last call, but
        those the last frame's scene cut ended, which wait for the next frame."""
        ended, self._ended = self._ended, []
        return self._close(ended)

    @property
    def resting(self) -> bool:
        """The picture has been still and no track is open: the source may decode key frames
        only (a track waiting to close still needs every frame to tell that its person left)."""
        return (
            self.gate is not None
            and self.gate.still
            and not self.tracker.tracks
            and not self._cut_off
        )

    def woken_by(self, image: ImageArray) -> bool:
        """The camera rests and ``image`` differs from the last frame analysed: a source that
        can go back to its key frame before (``RewindableSource``) should, before this frame
        is analysed, so that whatever changed is seen from its first frame."""
        return self.resting and self.gate is not None and self.gate.moved(image)

    def finish(self) -> list[Sighting]:
        """Close all open tracks: the source ended or the camera is stopping."""
        self._ended += self._cut_off + self.tracker.flush()
        self._cut_off = []
        return self.close_ended()

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
            and t.moments
            and t.moments.best().quality >= t.early_quality + EARLY_GAIN
        ]
        if not ready:
            return []
        bests = [t.moments.best() for t in ready]
        for track, best in zip(ready, bests, strict=True):
            track.early_looks += 1
            track.early_quality = best.quality
        self._embed_missing([m.observation for m in bests])
        wanted = self.screen(np.stack([m.observation.template for m in bests]))  # type: ignore[misc]
        candidates = [(t, m) for t, m, w in zip(ready, bests, wanted, strict=True) if w]
        self.stats.early_sightings += len(candidates)
        return [
            self._sighting(track.track_id, track.moments.in_order(), [best])
            for track, best in candidates
        ]

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
        usable = [t for t in tracks if t.moments]
        self.stats.tracks_closed += len(usable)
        if not usable:
            return []
        # The best face of every track first, whatever its quality; the best of the other
        # parts of its life only where screening says they could change the decision (a clear
        # non-match needs no second look).
        bests = [t.moments.best() for t in usable]
        self._embed_missing([m.observation for m in bests])
        firsts = np.stack([m.observation.template for m in bests])  # type: ignore[misc]
        wanted = self.screen(firsts) if self.screen else np.ones(len(usable), bool)
        chosen = [
            self._spread(track, best) if more else [best]
            for track, best, more in zip(usable, bests, wanted, strict=True)
        ]
        self._embed_missing([m.observation for group in chosen for m in group[1:]])
        sightings = [s for track in usable for s in self._parts(track)]
        for track in usable:
            track.moments.clear()  # the aligned faces have served their purpose
        self.stats.sightings += len(sightings)
        return sightings

    def _spread(self, track: Track, best: Moment) -> list[Moment]:
        """The best face of each part of the track's life; beyond its best face, only those
        that reach the minimum quality."""
        spread = track.moments.spread(self.tracking.best_k)
        return [best] + [m for m in spread if m is not best and m.quality >= self.min_quality]

    def _parts(self, track: Track) -> list[Sighting]:
        """One sighting per person in the track: split where its embedded faces disagree."""
        parts = split_parts(track.moments.in_order(), self.tracking.same_person_similarity)
        if len(parts) > 1:
            self.stats.split_tracks += 1
            self.stats.tracks_closed += len(parts) - 1
        ids = [track.track_id] + [self.tracker.next_id() for _ in parts[1:]]
        return [
            self._sighting(track_id, part, [m for m in part if m.observation.template is not None])
            for track_id, part in zip(ids, parts, strict=True)
        ]

    def _sighting(self, track_id: int, part: list[Moment], used: list[Moment]) -> Sighting:
        """A sighting of the moments ``part`` (time order) with the templates of ``used``."""
        best = max(part, key=lambda m: m.quality)
        used = sorted(used, key=lambda m: -m.quality)
        return Sighting(
            camera=self.camera,
            track_id=track_id,
            started_at=part[0].started_at,
            ended_at=part[-1].ended_at,
            first_frame=part[0].first_frame,
            last_frame=part[-1].last_frame,
            detections=sum(m.detections for m in part),
            best_frame=best.observation.frame_index,
            best_box=best.observation.box,
            best_crop=best.crop,
            best_quality=best.quality,
            templates=np.stack([m.observation.template for m in used]),  # type: ignore[misc]
            model=self.analyzer.model,
            template_frames=[m.observation.frame_index for m in used],
        )
