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
    return np.asarray(similarity_transforms(np.asarray(source)[None], target)[0])


def similarity_transforms(sources: FloatArray, target: np.ndarray = REFERENCE_POINTS) -> np.ndarray:
    """:func:`similarity_transform` of every point set in ``sources`` (N×P×2) at once.

    One stacked SVD for all the faces of a frame instead of one call per face: in a camera
    worker the per-face calls were the code that held the GIL longest (bench/gil.py).
    """
    src = np.asarray(sources, np.float64)
    dst = np.asarray(target, np.float64)
    points = src.shape[1]
    src_mean, dst_mean = src.mean(axis=1), dst.mean(axis=0)
    src_c, dst_c = src - src_mean[:, None, :], dst - dst_mean
    covariance = np.einsum("pi,npj->nij", dst_c, src_c) / points
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones((len(src), 2))
    sign[np.linalg.det(u) * np.linalg.det(vt) < 0, 1] = -1.0  # never a mirror image
    rotation = u @ (sign[:, :, None] * vt)
    variance = (src_c**2).sum(axis=(1, 2)) / points
    spread = (singular * sign).sum(axis=1)
    scale = np.divide(spread, variance, out=np.ones_like(variance), where=variance > 0)
    matrices = np.empty((len(src), 2, 3))
    matrices[:, :, :2] = scale[:, None, None] * rotation
    matrices[:, :, 2] = dst_mean - np.einsum("nij,nj->ni", matrices[:, :, :2], src_mean)
    return matrices


def align_faces(image: ImageArray, landmarks: FloatArray) -> np.ndarray:
    """Warp every face of ``image`` (landmarks (N,5,2)) to an (N,112,112,3) BGR batch."""
    crops = np.empty((len(landmarks), ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8)
    if not len(landmarks):
        return crops
    for crop, matrix in zip(crops, similarity_transforms(landmarks), strict=True):
        cv2.warpAffine(
            image,
            matrix,
            (ALIGNED_SIZE, ALIGNED_SIZE),
            dst=crop,
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
