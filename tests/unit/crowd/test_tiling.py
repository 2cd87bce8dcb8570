"""Tiles cover the picture with overlap, and people found twice across tiles count once."""

from __future__ import annotations

import numpy as np

from watchkeeper.crowd.tiling import TiledDetector, nms, tile_grid
from watchkeeper.domain import FloatArray, ImageArray


def test_tiles_cover_the_whole_picture_and_overlap() -> None:
    tiles = tile_grid(1920, 1080, 4, 3, 0.25)
    assert len(tiles) == 12
    assert min(t[0] for t in tiles) == 0 and max(t[2] for t in tiles) == 1920
    assert min(t[1] for t in tiles) == 0 and max(t[3] for t in tiles) == 1080
    first, second = tiles[0], tiles[1]
    assert second[0] < first[2]  # neighbours overlap


def test_nms_keeps_the_best_of_overlapping_boxes_and_a_half_box_inside_a_whole_one() -> None:
    boxes = np.array(
        [[0, 0, 100, 200], [5, 5, 105, 205], [0, 0, 100, 90], [300, 0, 400, 200]], np.float32
    )
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    # the second repeats the first; the third is the first's top half (cut by a tile edge)
    assert nms(boxes, scores, 0.45).tolist() == [0, 3]


class BrightBoxDetector:
    """Stands in for the model: 'sees' the box around the white pixels of each image."""

    name = "bright-box"

    def detect_batch(self, images: list[ImageArray]) -> list[tuple[FloatArray, FloatArray]]:
        found = []
        for image in images:
            ys, xs = np.nonzero(image[:, :, 0])
            if len(xs) == 0:
                found.append((np.zeros((0, 4), np.float32), np.zeros(0, np.float32)))
                continue
            box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
            found.append((box, np.array([0.9], np.float32)))
        return found


def test_people_seen_in_two_overlapping_tiles_are_counted_once_in_frame_pixels() -> None:
    image = np.zeros((400, 800, 3), np.uint8)
    image[200:240, 400:440] = 255  # one person, in the overlap of the two middle columns
    tiled = TiledDetector(BrightBoxDetector(), columns=2, rows=1, overlap=0.25, whole_view=False)
    people = tiled.detect(image)
    assert len(people) == 1
    assert people.boxes[0].tolist() == [400, 200, 440, 240]
