"""Our YuNet decoder against OpenCV's own (cv2.FaceDetectorYN) on the same file and images.

OpenCV ships the reference decoder for YuNet. Fed the same pixels (the frame scaled the way
our detector scales it), both must find the same faces: any drift in our decoding of the
strides, offsets or score heads shows up as boxes that no longer overlap.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from watchkeeper.config import VisionConfig
from watchkeeper.vision.factory import load_detector
from watchkeeper.vision.models import BUNDLED

DATA = Path(__file__).parents[3] / "examples" / "data"
IMAGES = [
    DATA / "facenet-pytorch" / "multiface.jpg",
    DATA / "deepface-pairs" / "selfie-many-people.jpg",
    DATA / "deepface-pairs" / "img2.jpg",
    DATA / "deepface-pairs" / "couple.jpg",
]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    left, top = np.maximum(a[:2], b[:2])
    right, bottom = np.minimum(a[2:], b[2:])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union)


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.name)
def test_boxes_and_landmarks_agree_with_opencv_face_detector_yn(path: Path) -> None:
    config = VisionConfig(min_face_size=8)
    ours = load_detector(config)
    image = cv2.imread(str(path))
    height, width = image.shape[:2]
    scale = min(1.0, config.detection_max_side / max(height, width))
    size = (round(width * scale), round(height * scale))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    oracle = cv2.FaceDetectorYN.create(
        str(BUNDLED["yunet"].path()),
        "",
        size,
        config.detection_threshold,
        config.nms_threshold,
    )

    faces = ours.detect(image)
    _, found = oracle.detect(scaled)

    assert found is not None and len(found) == len(faces) > 0
    boxes = np.column_stack([found[:, :2], found[:, :2] + found[:, 2:4]]) / scale
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width - 1)  # we cut boxes at the border too
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height - 1)
    landmarks = found[:, 4:14].reshape(-1, 5, 2) / scale
    for box, points in zip(faces.boxes, faces.landmarks, strict=True):
        best = int(np.argmax([_iou(box, other) for other in boxes]))
        assert _iou(box, boxes[best]) > 0.9
        np.testing.assert_allclose(points, landmarks[best], atol=0.5)
