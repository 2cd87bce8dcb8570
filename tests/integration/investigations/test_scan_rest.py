"""A recording whose picture stays still is read on its key frames, and nothing is missed.

The recording: 9.3 s of a still, empty scene, then the bundled clip (its subject in view from
the clip's first frames), encoded as a camera streams (no B-frames, a key frame every
second). After ``motion.sleep_after_s`` (5 s) of stillness the scan decodes key frames only;
the clip begins between two of them, and the key frame after shows it: the scan goes back to
the key frame before and reads every frame from there, as a scan that never rests does.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from case_kit import CLIP_START, open_case

from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP
from watchkeeper.investigations import scan
from watchkeeper.store import investigations as store
from watchkeeper.vision import FaceAnalyzer

RATE = 25
STILL_FRAMES = 232  # 9.28 s: the clip starts between the key frames at 9 s and 10 s


def _still_then_the_clip(path: Path) -> Path:
    with av.open(str(CLIP)) as source:
        frames = [f.to_ndarray(format="bgr24")[::2, ::2] for f in source.decode(video=0)]
    empty = np.full_like(frames[0], 96)  # a grey wall: nothing moves, nobody there
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 960, 540, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(RATE), "bf": "0"}
        stream.time_base = Fraction(1, RATE)
        for index, image in enumerate([empty] * STILL_FRAMES + frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _scan(tmp_path: Path, name: str, video: Path, analyzer: FaceAnalyzer, probe: bytes, **motion):
    ctx = AppContext(load_settings(data_dir=tmp_path / name, motion=motion), actor="user:ivan")
    ctx.__dict__["analyzer"] = analyzer
    try:
        case_id = open_case(ctx, probe=probe)
        report = scan.run_scan(
            ctx, scan.ScanRequest(case_id, [video], workers=1), analyzer=analyzer
        )
        with ctx.db.session(readonly=True) as s:
            found = {
                (c.track_id, c.first_frame, c.last_frame, round(c.score, 4))
                for c in store.candidates_of(s, case_id)
            }
        return report.files[0], found
    finally:
        ctx.close()


def test_a_still_recording_is_read_on_its_key_frames_and_the_subject_found_all_the_same(
    tmp_path: Path, analyzer: FaceAnalyzer, probe_jpeg: bytes
) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    video = _still_then_the_clip(folder / f"arcade_{CLIP_START:%Y%m%d-%H%M%S}.mp4")

    awake, expected = _scan(tmp_path, "awake", video, analyzer, probe_jpeg, sleep_after_s=0)
    resting, found = _scan(tmp_path, "resting", video, analyzer, probe_jpeg)

    assert expected and min(first for _, first, _, _ in expected) < STILL_FRAMES + 10
    assert found == expected  # the same tracks, from the same first frame, the same scores
    assert awake.state == resting.state == "done"
    # 5 s awake, then a key frame a second until the clip: 17 frames fewer than 67
    assert resting.frames_analysed <= awake.frames_analysed - 15
