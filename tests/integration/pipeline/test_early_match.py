"""Live cameras report a likely match while the person is still in view, not when they leave."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from watchkeeper.config import Settings
from watchkeeper.domain import Sighting
from watchkeeper.pipeline import CameraPipeline, CameraWorker
from watchkeeper.streams import open_source
from watchkeeper.vision import FaceAnalyzer


def run(
    clip: Path, analyzer: FaceAnalyzer, early_after: int, screen
) -> tuple[list, list, CameraPipeline]:
    settings = Settings()
    pipeline = CameraPipeline(
        "arcade", analyzer, settings.tracking, settings.vision.min_quality, screen, early_after
    )
    timeline: list[tuple[int, Sighting]] = []
    for frame in open_source(str(clip), "arcade", 5.0).frames():
        timeline += [(frame.index, s) for s in pipeline.process(frame)]
    final = pipeline.finish()
    return timeline, final, pipeline


def test_early_sighting_comes_long_before_the_track_closes(
    clip: Path, analyzer: FaceAnalyzer
) -> None:
    everyone = lambda templates: np.ones(len(templates), bool)  # noqa: E731 - screen says "maybe"
    timeline, final, pipeline = run(clip, analyzer, 2, everyone)
    early = [(index, s) for index, s in timeline if s.last_frame == index]
    assert early, "no sighting was reported while its person was still in view"
    closed_late = {s.track_id: s.last_frame for s in final}
    # a person in view to the end of the clip was reported within their first analysed frames
    first_reports: dict[int, Sighting] = {}
    for _, s in early:
        first_reports.setdefault(s.track_id, s)
    long_tracks = [s for s in first_reports.values() if closed_late.get(s.track_id, 0) >= 90]
    assert long_tracks and all(s.detections == 2 for s in long_tracks)
    assert pipeline.stats.early_sightings == len(early)


def test_early_embedding_is_reused_at_close_and_nobody_is_looked_at_twice(
    clip: Path, analyzer: FaceAnalyzer
) -> None:
    nobody = lambda templates: np.zeros(len(templates), bool)  # noqa: E731
    timeline, _final, pipeline = run(clip, analyzer, 2, nobody)
    assert pipeline.stats.early_sightings == 0
    assert all(s.last_frame != index for index, s in timeline)  # only closed tracks reported
    # each track was embedded once early and at most once more at close (a better face)
    tracks = pipeline.stats.sightings
    assert pipeline.stats.embedded <= 2 * tracks


def test_a_track_that_screened_as_nobody_is_looked_at_again_when_a_better_face_arrives(
    clip: Path, analyzer: FaceAnalyzer
) -> None:
    settings = Settings()
    screened: list[int] = []

    def nobody(templates: np.ndarray) -> np.ndarray:
        screened.append(len(templates))
        return np.zeros(len(templates), bool)

    counts = {}
    for looks in (1, 3):
        screened.clear()
        pipeline = CameraPipeline(
            "arcade", analyzer, settings.tracking, settings.vision.min_quality, nobody, 2, looks
        )
        for frame in open_source(str(clip), "arcade", 5.0).frames():
            pipeline.process(frame)
        looked = sum(screened)  # tracks screened while open, and those that closed meanwhile
        tracks = pipeline.stats.tracks_closed + len(pipeline.tracker.tracks)
        pipeline.finish()
        counts[looks] = (looked, pipeline.stats.embedded)
        assert looked <= (looks + 1) * tracks
    assert counts[3][0] > counts[1][0]  # some tracks got a clearly better face and a 2nd look
    assert counts[3][1] <= 1.25 * counts[1][1]  # at a small cost in embeddings


def test_whoever_is_in_view_is_reported_before_the_tracks_that_ended_are_closed(
    clip: Path, analyzer: FaceAnalyzer
) -> None:
    """A frame's early sightings reach the matcher and the sink before the work of closing
    the tracks the same frame ended (their embeddings) is done."""
    settings = Settings()
    everyone = lambda templates: np.ones(len(templates), bool)  # noqa: E731 - screen says "maybe"
    pipeline = CameraPipeline(
        "arcade", analyzer, settings.tracking, settings.vision.min_quality, everyone, 1
    )
    # per sink call: frames handled before, whether its track is still open, tracks closed
    sunk: list[tuple[int, bool, int]] = []
    handled = [0]

    def sink(sighting: Sighting, _matches: list) -> None:
        still_open = any(t.track_id == sighting.track_id for t in pipeline.tracker.tracks)
        sunk.append((handled[0], still_open, pipeline.stats.tracks_closed))

    def on_frame(_frame: object) -> None:
        handled[0] += 1

    worker = CameraWorker(
        open_source(str(clip), "arcade", 5.0), pipeline, lambda _s: [], sink, on_frame
    )
    worker.run()
    both = [
        index
        for index in dict.fromkeys(f for f, _, _ in sunk)
        if {still_open for f, still_open, _ in sunk if f == index} == {True, False}
    ]
    assert both, "no frame both reported an open track and closed another: nothing tested"
    for index in both:
        early = [closed for f, still_open, closed in sunk if f == index and still_open]
        ended = [closed for f, still_open, closed in sunk if f == index and not still_open]
        assert max(early) < min(ended), f"frame {index}: closes done before the early reports"
