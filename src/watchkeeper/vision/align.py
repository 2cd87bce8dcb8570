"""Five-point similarity alignment of faces to the 112×112 template that recognisers expect.

Both SFace and ArcFace were trained on faces warped so that the eyes, nose tip and mouth
corners land on the same five points; aligning the same way is what makes their published
thresholds hold on our crops.
"""

from __future__ import annotations

import cv2
import numpy as np

from watchkeeper.domain import FloatArray, ImageArray

ALIGNED_SIZE = 112

# The ArcFace reference points in a 112×112 crop: right eye, left eye, nose tip, right and
# left mouth corner (the person's right is the image's left).
REFERENCE_POINTS = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(source: FloatArray, target: np.ndarray = REFERENCE_POINTS) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation from source to target (Umeyama)."""
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((singular * np.diag(sign)).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_faces(image: ImageArray, landmarks: FloatArray) -> np.ndarray:
    """Warp every face of ``image`` (landmarks (N,5,2)) to an (N,112,112,3) BGR batch."""
    crops = np.empty((len(landmarks), ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8)
    for i, points in enumerate(landmarks):
        crops[i] = cv2.warpAffine(
            image,
            similarity_transform(points),
            (ALIGNED_SIZE, ALIGNED_SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
    return crops


def crop_with_margin(
    image: ImageArray, box: FloatArray, margin: float = 0.4, max_side: int = 192
) -> ImageArray:
    """A reviewer-friendly cut of the face with some context, at most ``max_side`` pixels."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    pad_w, pad_h = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(x1 - pad_w)), max(0, int(y1 - pad_h))
    right, bottom = min(width, int(x2 + pad_w) + 1), min(height, int(y2 + pad_h) + 1)
    crop = image[top:bottom, left:right]
    longest = max(crop.shape[:2])
    if longest > max_side:
        factor = max_side / longest
        resized = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        crop = np.asarray(resized, np.uint8)
    return np.ascontiguousarray(crop)
