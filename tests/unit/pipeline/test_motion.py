"""The geometry of motion gating: which regions are detected, and where they go on the canvas."""

from __future__ import annotations

import numpy as np

from watchkeeper.domain import Faces
from watchkeeper.pipeline.motion import (
    TILE_GAP,
    _covered,
    _merge,
    _motion_mask,
    _moving_boxes,
    _overlaps,
    _pack,
)


def faces(*boxes: tuple[float, float, float, float]) -> Faces:
    count = len(boxes)
    return Faces(
        boxes=np.array(boxes, np.float32).reshape(-1, 4),
        landmarks=np.zeros((count, 5, 2), np.float32),
        scores=np.ones(count, np.float32),
    )


def test_heavily_overlapping_regions_are_joined_and_a_chain_is_not():
    assert _merge([(0, 0, 100, 100), (10, 10, 110, 110)]) == [(0, 0, 110, 110)]
    # two thin boxes crossing: their join would cost far more than the two apart
    crossing = [(0, 45, 1000, 55), (495, 0, 505, 1000)]
    assert sorted(_merge(crossing)) == sorted(crossing)


def test_packed_regions_keep_their_size_stay_apart_and_fit_the_width():
    regions = [(0, 0, 300, 200), (500, 500, 900, 600), (10, 10, 700, 90), (0, 0, 50, 50)]
    places, height = _pack(regions, 1000)
    tiles = [
        (x, y, x + r[2] - r[0] + TILE_GAP, y + r[3] - r[1] + TILE_GAP)
        for (x, y), r in zip(places, regions, strict=True)
    ]
    assert all(t[2] - TILE_GAP <= 1000 for t in tiles)
    assert max(t[3] - TILE_GAP for t in tiles) == height
    assert not any(_overlaps(a, b) for i, a in enumerate(tiles) for b in tiles[i + 1 :])


def test_motion_is_where_the_picture_changed_in_frame_pixels():
    before = np.full((90, 160), 100, np.uint8)
    after = before.copy()
    after[40:50, 100:110] = 200
    boxes = _moving_boxes(_motion_mask(after, before, 12), 12.0)
    assert len(boxes) == 1
    x1, y1, x2, y2 = boxes[0]
    assert x1 <= 1200 and y1 <= 480 and x2 >= 1320 and y2 >= 600  # the change, scaled up
    assert not _motion_mask(before, before.copy(), 12).any()


def test_a_face_found_again_inside_a_carried_one_is_dropped():
    carried = faces((100, 100, 200, 200))
    found = faces((110, 105, 190, 150), (400, 400, 480, 480))  # half a face, and a new one
    assert _covered(found, carried).tolist() == [True, False]
