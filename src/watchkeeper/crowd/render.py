"""A picture of what the counter saw: zones, lines and people's boxes, with every head blurred.

Used for the console's live view (from memory, never stored) and for the accuracy picture in
the docs. A crowd view needs no faces: every face box given (from the face detector) and the
head region of every person box (its top part, widened a little) are blurred beyond
recognition. A face that both detectors missed is not blurred, which is one more reason the
picture is shown live only and never stored.
"""

from __future__ import annotations

import cv2
import numpy as np

from watchkeeper.crowd.tiling import People
from watchkeeper.crowd.zones import Zone
from watchkeeper.domain import FloatArray, ImageArray

ZONE_COLOUR = (0, 200, 255)  # BGR amber
LINE_COLOUR = (255, 160, 0)
BOX_COLOUR = (80, 220, 80)
HEAD_SHARE = 0.3  # of a person box's height, from its top
FACE_MARGIN = 0.3  # around a face box, of its size


def _blur(out: ImageArray, x1: float, y1: float, x2: float, y2: float) -> None:
    height, width = out.shape[:2]
    ix1, iy1 = int(max(0, x1)), int(max(0, y1))
    ix2, iy2 = int(min(width, x2)), int(min(height, y2))
    if ix2 - ix1 < 2 or iy2 - iy1 < 2:
        return
    region = out[iy1:iy2, ix1:ix2]
    # down to a few pixels and back: nothing of a face's detail survives
    small = cv2.resize(region, (max(1, region.shape[1] // 16), max(1, region.shape[0] // 16)))
    out[iy1:iy2, ix1:ix2] = cv2.resize(
        small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_NEAREST
    )


def blur_heads(image: ImageArray, people: People, faces: FloatArray | None = None) -> ImageArray:
    """A copy of ``image`` with every face box and every person box's head region blurred."""
    out = image.copy()
    for x1, y1, x2, y2 in people.boxes:
        w, h = x2 - x1, y2 - y1
        _blur(out, x1 - 0.1 * w, y1 - 0.05 * h, x2 + 0.1 * w, y1 + HEAD_SHARE * h)
    for x1, y1, x2, y2 in faces if faces is not None else ():
        m = FACE_MARGIN * max(x2 - x1, y2 - y1)
        _blur(out, x1 - m, y1 - m, x2 + m, y2 + m)
    return out


def draw(
    image: ImageArray, zones: list[Zone], people: People, faces: FloatArray | None = None
) -> ImageArray:
    """Faces and heads blurred, then zones (outlined), lines (arrowed) and person boxes."""
    out = blur_heads(image, people, faces)
    height, width = out.shape[:2]
    thick = max(2, round(width / 640))
    scale = np.array([width, height], np.float64)
    for zone in zones:
        poly = (np.array(zone.polygon) * scale).astype(np.int32)
        cv2.polylines(out, [poly], isClosed=True, color=ZONE_COLOUR, thickness=thick)
        inside = int(np.sum(zone.contains(np.clip(people.feet, 0, scale - 1), (width, height))))
        label = f"{zone.name}: {inside}"
        origin = (int(poly[:, 0].min()) + 8, int(poly[:, 1].min()) + 12 * thick)
        cv2.putText(out, label, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, ZONE_COLOUR, thick)
        for line in zone.lines:
            a = tuple(int(v) for v in np.array(line.a) * scale)
            b = tuple(int(v) for v in np.array(line.b) * scale)
            cv2.arrowedLine(out, a, b, LINE_COLOUR, thick, tipLength=0.03)
    for x1, y1, x2, y2 in people.boxes.astype(int):
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOUR, thick)
    return out
