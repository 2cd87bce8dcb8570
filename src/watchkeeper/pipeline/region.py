"""A camera's region of interest: where in the picture faces count.

Given in fractions of the picture's width and height (0..1), so that it survives a change of
stream resolution: four numbers ``[x1, y1, x2, y2]`` are a box, six or more ``[x, y, x, y,
...]`` a polygon. A face counts when the centre of its box lies inside.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from watchkeeper.domain import FloatArray


def check_roi(values: Sequence[float] | None) -> tuple[float, ...] | None:
    """The region as a tuple, or ValueError saying what is wrong with it."""
    if values is None:
        return None
    roi = tuple(float(v) for v in values)
    if len(roi) == 4:
        x1, y1, x2, y2 = roi
        if not (x1 < x2 and y1 < y2):
            raise ValueError("a box region [x1, y1, x2, y2] needs x1 < x2 and y1 < y2")
    elif len(roi) < 6 or len(roi) % 2:
        raise ValueError(
            "a region is a box [x1, y1, x2, y2] or a polygon of 3 or more points "
            f"[x, y, x, y, ...]; got {len(roi)} numbers"
        )
    if not all(0.0 <= v <= 1.0 for v in roi):
        raise ValueError("region coordinates are fractions of the picture: each within 0..1")
    return roi


def inside(
    roi: tuple[float, ...], boxes: FloatArray, width: int, height: int
) -> npt.NDArray[np.bool_]:
    """Which boxes (N,4 in pixels) have their centre inside the region."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 / max(width, 1)
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 / max(height, 1)
    if len(roi) == 4:
        x1, y1, x2, y2 = roi
        return np.asarray((cx >= x1) & (cx <= x2) & (cy >= y1) & (cy <= y2))
    xs, ys = np.asarray(roi[0::2]), np.asarray(roi[1::2])
    result = np.zeros(len(cx), bool)
    # even-odd rule: count the polygon edges a ray to the right of each point crosses
    for i in range(len(xs)):
        xa, ya, xb, yb = xs[i - 1], ys[i - 1], xs[i], ys[i]
        straddles = (ya > cy) != (yb > cy)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = xa + (cy - ya) * (xb - xa) / (yb - ya)
        result ^= straddles & (cx < crossing)
    return result


def filled(roi: tuple[float, ...], height: int, width: int) -> npt.NDArray[np.uint8]:
    """The region drawn on a ``height`` × ``width`` mask: 1 inside, 0 outside."""
    xs, ys = roi[0::2], roi[1::2]
    if len(roi) == 4:  # a box: its corners
        xs, ys = (xs[0], xs[1], xs[1], xs[0]), (ys[0], ys[0], ys[1], ys[1])
    points = np.array([[x * width, y * height] for x, y in zip(xs, ys, strict=True)])
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask
