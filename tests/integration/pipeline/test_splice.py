"""Tracks never cross a cut: the bundled clip spliced with a shifted copy of itself.

At the splice (``splice_kit``) another person's face sits where the first segment's clearest
face had just been. Before scene-cut detection the tracker carried that track from frame 0 to
frame 100, so the second person's sighting began in the first segment and its evidence crop
showed the first person.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.policy_world import authorised_store
from support.splice_kit import CUT, second_person_jpeg, spliced_clip
from watchkeeper.config import Settings
from watchkeeper.domain import Sighting
from watchkeeper.enrolment import enrol_person
from watchkeeper.pipeline import CameraPipeline, CameraWorker
from watchkeeper.streams import open_source
from watchkeeper.vision import FaceAnalyzer


@pytest.fixture(scope="module")
def spliced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return spliced_clip(tmp_path_factory.mktemp("splice") / "spliced.mp4")


def test_no_track_crosses_the_splice(spliced: Path, analyzer: FaceAnalyzer) -> None:
    settings = Settings()
    pipeline = CameraPipeline("arcade", analyzer, settings.tracking, settings.vision.min_quality)
    sightings: list[Sighting] = []
    source = open_source(str(spliced), "arcade", 5.0)
    CameraWorker(source, pipeline, lambda _s: [], lambda s, _m: sightings.append(s)).run()
    assert pipeline.stats.scene_cuts == 1
    assert sightings and pipeline.stats.frames == 21
    crossing = [
        (s.first_frame, s.last_frame) for s in sightings if s.first_frame < CUT <= s.last_frame
    ]
    assert crossing == []
    assert any(s.first_frame >= CUT for s in sightings)


def test_run_matches_a_person_enrolled_from_the_second_segment_there(
    spliced: Path, analyzer: FaceAnalyzer, settings: Settings
) -> None:
    db, media = authorised_store(settings, "missing", "missing_person")
    enrol_person(
        db, media, analyzer, watchlist="missing", name="second", actor="test",
        photos=[("second.jpg", second_person_jpeg(spliced))], max_pixels=10**8,
        min_quality=0.3, largest_face=True,
    )  # fmt: skip
    db.close()
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(settings.data_dir), "run",
         str(spliced), "--camera", "arcade", "--no-store", "--json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sightings = json.loads(result.stdout)["sightings"]
    assert all(not (s["first_frame"] < CUT <= s["last_frame"]) for s in sightings)
    matched = [s for s in sightings if s["matches"]]
    assert any(s["first_frame"] >= CUT and s["best_frame"] >= CUT for s in matched)
    # every track says whether it was embedded, its best score, and why it did not match
    for s in sightings:
        assert s["embedded"] >= 1
        if s["matches"]:
            assert s["outcome"] == "matched"
        else:
            assert s["outcome"] == "below threshold" and s["best_score"] < 0.363


def test_the_new_picture_is_looked_at_before_the_tracks_the_cut_ended_are_closed(
    spliced: Path, analyzer: FaceAnalyzer
) -> None:
    """Closing every track a cut ended is a batch of embeddings; the people of the new
    picture are screened first, the old picture's tracks one frame later."""
    settings = Settings()
    everyone = lambda templates: np.ones(len(templates), bool)  # noqa: E731 - screen says "maybe"
    pipeline = CameraPipeline(
        "arcade", analyzer, settings.tracking, settings.vision.min_quality, everyone, 2
    )
    # per sink call, in order: the sighting, whether its track is still open, cuts so far
    sunk: list[tuple[Sighting, bool, int]] = []

    def sink(sighting: Sighting, _matches: list) -> None:
        still_open = any(t.track_id == sighting.track_id for t in pipeline.tracker.tracks)
        sunk.append((sighting, still_open, pipeline.stats.scene_cuts))

    source = open_source(str(spliced), "arcade", 5.0)
    CameraWorker(source, pipeline, lambda _s: [], sink).run()
    cut_off = [i for i, (s, still_open, cuts) in enumerate(sunk)
               if cuts and not still_open and s.last_frame < CUT]  # fmt: skip
    new_early = [i for i, (s, still_open, _) in enumerate(sunk)
                 if still_open and s.first_frame >= CUT]  # fmt: skip
    assert cut_off and new_early
    assert min(new_early) < min(cut_off)
    # nothing is lost or added by the wait: the sightings a scan of the same clip reports
    scan = CameraPipeline(
        "arcade", analyzer, settings.tracking, settings.vision.min_quality, everyone, 2
    )
    scanned = [s for frame in open_source(str(spliced), "arcade", 5.0).frames()
               for s in scan.process(frame)] + scan.finish()  # fmt: skip
    seen = sorted((s.track_id, s.first_frame, s.last_frame) for s, _, _ in sunk)
    assert seen == sorted((s.track_id, s.first_frame, s.last_frame) for s in scanned)
