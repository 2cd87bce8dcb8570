"""Recall first: a brief, poor-quality face next to clear ones is still embedded and matched.

In the bundled clip a woman crosses the front of the picture, motion-blurred: every face of
hers scores about 0.11 on the quality heuristic, below ``vision.min_quality`` (0.25), while the
people beside her score 0.5–0.8. Before recall-first selection her faces were never embedded,
so no photo of her could ever match. Here she is enrolled from a later frame of the clip
(blurred too) and looked for in its first 0.8 s only.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from support.policy_world import authorised_store
from watchkeeper.config import Settings
from watchkeeper.demo import CLIP
from watchkeeper.domain import Match, Sighting
from watchkeeper.enrolment import enrol_person
from watchkeeper.pipeline import CameraPipeline, CameraWorker
from watchkeeper.recognition import Recogniser
from watchkeeper.streams import open_source
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import encode_jpeg

BRIEF = 20  # frames 0–19: 0.8 s, analysed at frames 0, 5, 10, 15
PHOTO_FRAME, PHOTO_REGION = 30, (slice(650, 950), slice(1330, 1600))


def _brief_clip_and_photo(folder: Path) -> tuple[Path, bytes]:
    path = folder / "brief.mp4"
    photo = None
    with av.open(str(CLIP)) as source, av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"crf": "20", "preset": "ultrafast"}
        for index, frame in enumerate(source.decode(video=0)):
            if index < BRIEF:
                out.mux(stream.encode(frame.reformat(format="yuv420p")))
            elif index == PHOTO_FRAME:
                image = frame.to_ndarray(format="bgr24")
                photo = encode_jpeg(np.ascontiguousarray(image[PHOTO_REGION]))
                break
        out.mux(stream.encode())
    assert photo is not None
    return path, photo


def test_a_brief_low_quality_face_beside_clear_ones_is_embedded_and_matched(
    tmp_path: Path, analyzer: FaceAnalyzer, settings: Settings
) -> None:
    video, photo = _brief_clip_and_photo(tmp_path)
    db, media = authorised_store(settings, "missing", "missing_person")
    enrol_person(
        db, media, analyzer, watchlist="missing", name="her", actor="test",
        photos=[("her.jpg", photo)], max_pixels=10**8, min_quality=0.05, largest_face=True,
    )  # fmt: skip
    recogniser = Recogniser(db, settings.matching, analyzer.model, 128)
    pipeline = CameraPipeline(
        "arcade", analyzer, settings.tracking, settings.vision.min_quality, recogniser.screen
    )
    results: list[tuple[Sighting, list[Match]]] = []
    source = open_source(str(video), "arcade", 5.0)
    CameraWorker(source, pipeline, recogniser.match, lambda s, m: results.append((s, m))).run()
    db.close()
    assert pipeline.stats.frames == 4
    # she moves about two face widths between analysed frames: the tracker follows her from
    # her first step all the same, and her four frames are one sighting, matched; nobody
    # else is
    matched = [s for s, m in results if m]
    assert [(s.first_frame, s.last_frame, s.detections) for s in matched] == [(0, 15, 4)]
    for sighting in matched:
        assert sighting.best_quality < settings.vision.min_quality  # never embedded before
        assert sighting.outcome is not None and sighting.outcome.reason == "matched"
    clear = [s for s, m in results if not m and s.best_quality >= 0.5]
    assert clear, "the clear faces beside her are sightings of their own"
    assert all(s.outcome is not None and s.outcome.reason == "below threshold" for s in clear)
