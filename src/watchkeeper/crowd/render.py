"""A picture of what the counter saw: zones, lines and people's boxes, with every head blurred.

Used for the console's live view (from memory, never stored) and for the accuracy picture in
the docs. Heads are blurred inside every person box (its top fifth, widened a little): a crowd
view needs no faces. A person the detector missed is not blurred, which is why the picture is
shown live to operators only and never stored.
"""

from __future__ import annotations

import cv2
import numpy as np

from watchkeeper.crowd.tiling import People
from watchkeeper.crowd.zones import Zone
from watchkeeper.domain import ImageArray

ZONE_COLOUR = (0, 200, 255)  # BGR amber
LINE_COLOUR = (255, 160, 0)
BOX_COLOUR = (80, 220, 80)
HEAD_SHARE = 0.22  # of a person box's height, from its top


def blur_heads(image: ImageArray, people: People) -> ImageArray:
    """A copy of ``image`` with the head region of every person box strongly blurred."""
    out = image.copy()
    height, width = out.shape[:2]
    for x1, y1, x2, y2 in people.boxes:
        box_w, box_h = x2 - x1, y2 - y1
        hx1 = int(max(0, x1 - 0.1 * box_w))
        hx2 = int(min(width, x2 + 0.1 * box_w))
        hy1 = int(max(0, y1 - 0.05 * box_h))
        hy2 = int(min(height, y1 + HEAD_SHARE * box_h))
        if hx2 - hx1 < 2 or hy2 - hy1 < 2:
            continue
        region = out[hy1:hy2, hx1:hx2]
        small = cv2.resize(region, (max(1, region.shape[1] // 12), max(1, region.shape[0] // 12)))
        out[hy1:hy2, hx1:hx2] = cv2.resize(
            small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    return out


def draw(image: ImageArray, zones: list[Zone], people: People) -> ImageArray:
    """Heads blurred, then zones (outlined), counting lines (arrowed) and person boxes."""
    out = blur_heads(image, people)
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
