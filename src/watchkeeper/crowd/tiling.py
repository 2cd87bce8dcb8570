"""Tiled person detection: overlapping tiles of a region, one batch, one merged answer.

The detector sees 300×300 pixels. A person 60 px tall in a 1080p frame shrinks to 17 px on a
whole-frame pass and is missed; on a 2×2 grid of tiles the same person is twice as large. Tiles
overlap so that a person cut by a tile edge is whole in a neighbour, and the duplicates this
creates are merged by non-maximum suppression across all tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from watchkeeper.config import CrowdConfig
from watchkeeper.crowd.detector import PersonDetector
from watchkeeper.domain import FloatArray, ImageArray


@dataclass(frozen=True, slots=True)
class People:
    """The people found in one frame: parallel arrays, boxes in frame pixels."""

    boxes: FloatArray  # (N, 4) x1, y1, x2, y2
    scores: FloatArray  # (N,)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def feet(self) -> FloatArray:
        """(N, 2) the bottom centre of each box: where a person stands on the floor."""
        return np.stack([(self.boxes[:, 0] + self.boxes[:, 2]) / 2, self.boxes[:, 3]], axis=1)

    @classmethod
    def empty(cls) -> People:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def tile_grid(
    width: int, height: int, columns: int, rows: int, overlap: float
) -> list[tuple[int, int, int, int]]:
    """Tiles x1, y1, x2, y2 covering ``width``×``height``, each overlapping its neighbours.

    >>> tile_grid(100, 100, 2, 1, 0.2)
    [(0, 0, 60, 100), (40, 0, 100, 100)]
    """
    if columns < 1 or rows < 1:
        raise ValueError(f"a tile grid needs at least 1×1 tiles, not {columns}×{rows}")
    if not 0 <= overlap < 1:
        raise ValueError(f"tile overlap must be in [0, 1), not {overlap}")

    def spans(length: int, count: int) -> list[tuple[int, int]]:
        # count tiles of size s with stride s·(1−overlap) exactly covering length
        size = length / (count - (count - 1) * overlap)
        step = size * (1 - overlap)
        return [(round(i * step), min(length, round(i * step + size))) for i in range(count)]

    return [(x1, y1, x2, y2) for y1, y2 in spans(height, rows) for x1, x2 in spans(width, columns)]


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while len(order):
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        # overlap over the smaller box as well: a person cut by a tile edge leaves a half box
        # inside the whole one, whose IoU is low but which is the same person
        smaller = np.minimum(areas[best], areas[rest])
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-6)
        contained = inter / np.maximum(smaller, 1e-6)
        order = rest[(iou <= iou_threshold) & (contained <= 0.8)]
    return np.asarray(kept, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class TiledDetector:
    """Runs a person detector over a tile grid (plus the whole view) and merges the result."""

    detector: PersonDetector
    columns: int = 4
    rows: int = 3
    overlap: float = 0.25
    whole_view: bool = True  # also one pass on the whole view, for people taller than a tile
    score_threshold: float = 0.3
    iou_threshold: float = 0.45

    @property
    def passes(self) -> int:
        """Detector passes per frame: what a frame costs, in units of one 300×300 pass."""
        tiles = self.columns * self.rows
        return tiles + (1 if self.whole_view and tiles > 1 else 0)

    def detect(self, image: ImageArray, region: tuple[int, int, int, int] | None = None) -> People:
        """People in ``image`` (or only in its ``region`` x1, y1, x2, y2), in frame pixels."""
        x0, y0, x1, y1 = region or (0, 0, image.shape[1], image.shape[0])
        view = image[y0:y1, x0:x1]
        tiles = tile_grid(view.shape[1], view.shape[0], self.columns, self.rows, self.overlap)
        if self.whole_view and len(tiles) > 1:
            tiles.append((0, 0, view.shape[1], view.shape[0]))
        crops = [np.ascontiguousarray(view[ty1:ty2, tx1:tx2]) for tx1, ty1, tx2, ty2 in tiles]
        all_boxes: list[FloatArray] = []
        all_scores: list[FloatArray] = []
        for (tx1, ty1, _, _), (boxes, scores) in zip(
            tiles, self.detector.detect_batch(crops), strict=True
        ):
            keep = scores >= self.score_threshold
            all_boxes.append(boxes[keep] + np.array([tx1 + x0, ty1 + y0] * 2, np.float32))
            all_scores.append(scores[keep])
        if not all_boxes or sum(len(s) for s in all_scores) == 0:
            return People.empty()
        boxes = np.concatenate(all_boxes).astype(np.float32)
        scores = np.concatenate(all_scores).astype(np.float32)
        kept = nms(boxes, scores, self.iou_threshold)
        return People(boxes[kept], scores[kept])


def tiled_from_config(detector: PersonDetector, config: CrowdConfig) -> TiledDetector:
    """The tiler the settings describe (``crowd.*`` in the config)."""
    return TiledDetector(
        detector,
        columns=config.tile_columns,
        rows=config.tile_rows,
        overlap=config.tile_overlap,
        whole_view=config.whole_view,
        score_threshold=config.score_threshold,
        iou_threshold=config.nms_threshold,
    )
