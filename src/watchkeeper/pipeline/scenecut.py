"""Shot changes and camera jumps between two analysed frames, seen from a thumbnail.

The tracker pairs faces by where they are, so at a cut in an edited recording, a preset
move of a PTZ camera or a switch of a multiplexed feed it would hand a track to whoever now
stands where the last face was — and a track that mixes two people is matched on the clearer
one only. The camera pipeline therefore asks :class:`SceneCut` about every analysed frame and
closes all open tracks when the picture is no longer the same scene.

The test is the correlation of two small grey thumbnails (64×36, each normalised to zero
mean and unit variance, so that a change of exposure is not a cut). Within one shot,
consecutive analysed frames correlate above 0.9 even in a crowd at 5 frames/s; a cut to
another scene, or to the same scene shifted or mirrored, falls far below. The threshold and
its measurements are in docs/decisions/0031-track-splitting.md. The thumbnail is made from the
frame's grey preview (``pipeline.preview``), which the motion gate has usually made already.
"""

from __future__ import annotations

import cv2
import numpy as np

from watchkeeper.domain import FloatArray, ImageArray
from watchkeeper.pipeline.preview import grey_preview

THUMBNAIL = (64, 36)  # width, height: coarse enough to ignore people moving, fine enough for a cut


def thumbnail(image: ImageArray) -> FloatArray:
    """The frame as a small grey picture with zero mean and unit variance."""
    small = cv2.resize(grey_preview(image), THUMBNAIL, interpolation=cv2.INTER_AREA)
    grey = small.astype(np.float32)
    grey -= grey.mean()
    return grey / max(float(grey.std()), 1.0)


def similarity(a: FloatArray, b: FloatArray) -> float:
    """Correlation of two thumbnails: 1 for the same picture, about 0 for unrelated ones."""
    return float((a * b).mean())


class SceneCut:
    """Remembers the last analysed frame of one camera; says whether the next one is a cut."""

    def __init__(self, min_similarity: float) -> None:
        self.min_similarity = min_similarity
        self._previous: FloatArray | None = None
        self.cuts = 0

    def update(self, image: ImageArray) -> bool:
        """True when ``image`` does not continue the scene of the previous frame."""
        current = thumbnail(image)
        previous, self._previous = self._previous, current
        if previous is None or previous.shape != current.shape:
            return previous is not None
        cut = similarity(previous, current) < self.min_similarity
        self.cuts += cut
        return cut
