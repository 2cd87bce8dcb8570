"""Which faces of a track are embedded: the best of each part of its life, best first."""

from __future__ import annotations

import numpy as np

from watchkeeper.domain import Observation
from watchkeeper.pipeline.selection import Moments

CROP = np.zeros((8, 8, 3), np.uint8)


def face(frame: int, quality: float) -> Observation:
    return Observation(
        frame_index=frame, timestamp=frame * 0.2, box=np.zeros(4, np.float32),
        landmarks=np.zeros((5, 2), np.float32), score=0.9, quality=quality,
        aligned=np.zeros((112, 112, 3), np.uint8),
    )  # fmt: skip


def moments(qualities: list[float], stretch_s: float = 1.0) -> Moments:
    kept = Moments(0.0, stretch_s)
    for frame, quality in enumerate(qualities):
        kept.offer(face(frame, quality), lambda: CROP)
    return kept


def test_the_spread_is_the_best_of_each_part_of_the_life_not_the_top_k_of_one_moment() -> None:
    # 6 s at 5 frames/s; the clearest faces all in the first second
    qualities = [0.9, 0.95, 0.92, 0.91, 0.93] + [0.3] * 20 + [0.2, 0.4, 0.1, 0.2, 0.1]
    spread = moments(qualities).spread(3)
    assert len(spread) == 3
    assert spread[0].observation.frame_index == 1  # the clearest face overall comes first
    assert sorted(m.observation.frame_index // 10 for m in spread) == [0, 1, 2]  # one per part
    assert spread[-1].quality <= spread[0].quality


def test_a_short_track_gives_every_stretch_best_first() -> None:
    spread = moments([0.1, 0.05, 0.3, 0.2, 0.4, 0.35], stretch_s=0.5).spread(5)
    # stretches of 0.5 s: frames 0-2, 3-4 and 5 (0.2 s apart)
    assert [round(m.quality, 2) for m in spread] == [0.4, 0.35, 0.3]
    assert sum(m.detections for m in spread) == 6


def test_the_crop_is_cut_only_for_kept_faces() -> None:
    cuts: list[int] = []
    kept = Moments(0.0, 10.0)
    for frame, quality in enumerate([0.5, 0.4, 0.6, 0.3]):
        kept.offer(face(frame, quality), lambda f=frame: cuts.append(f) or CROP)  # type: ignore[func-returns-value]
    assert cuts == [0, 2]
    assert kept.best().observation.frame_index == 2
    kept.clear()
    assert not kept
