"""Every runtime gives the same faces and templates as the f32 reference, on real pictures.

The reference is ONNX Runtime on the dequantised f32 weights (what Watchkeeper ran before
OpenVINO). Other runtimes and precisions must agree with it closely enough that a template
made on one machine matches a template made on another: cosine ≥ 0.999 in f32 and ≥ 0.995
in bf16, and every clear detection found again with IoU ≥ 0.9 in f32.

A detector run in bf16 (only when ``vision.detector_runtime`` is set to openvino: ``auto``
keeps it on ONNX Runtime in f32, decision 0042) finds every clear face and scores it alike,
but its boxes are looser: on these 103 faces, 102 at IoU ≥ 0.93 and one 622-pixel face at
0.84 (bf16 keeps 8 significant bits, and the box sizes are the exponential of a regressed
value). Its test holds it to IoU ≥ 0.8, which is what it does, rather than skipping it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from watchkeeper.config import VisionConfig
from watchkeeper.domain import Faces
from watchkeeper.vision.align import align_faces
from watchkeeper.vision.factory import load_detector, load_embedder

REFERENCE = VisionConfig(runtime="onnxruntime", precision="f32")
# Faces this far above the detection threshold must be found by every runtime; nearer the
# threshold, a last-digit difference may legitimately tip a face either way.
CLEAR_MARGIN = 0.05
CLIP_FRAMES = (0, 30, 60, 90)


@dataclass
class Reference:
    images: list[np.ndarray]
    faces: list[Faces]
    crops: np.ndarray
    templates: np.ndarray


def _clip_frames(clip: Path) -> list[np.ndarray]:
    with av.open(str(clip)) as container:
        return [
            frame.to_ndarray(format="bgr24")
            for index, frame in enumerate(container.decode(video=0))
            if index in CLIP_FRAMES
        ]


@pytest.fixture(scope="module")
def reference(examples: Path, clip: Path) -> Reference:
    photos = [cv2.imread(str(p)) for p in sorted((examples / "deepface-pairs").glob("*.jpg"))]
    images = photos + _clip_frames(clip)
    detector = load_detector(REFERENCE)
    faces = [detector.detect(image) for image in images]
    aligned = [align_faces(image, f.landmarks) for image, f in zip(images, faces, strict=True)]
    crops = np.concatenate(aligned)
    assert len(crops) >= 50, "the test needs many real faces"
    return Reference(images, faces, crops, load_embedder(REFERENCE).embed(crops))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod((bottom_right - top_left).clip(0), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / (area + areas - inter)


def _unmatched(
    found: Faces, wanted: Faces, clear: float, floor: float
) -> list[tuple[float, float]]:
    """(score, best IoU) of each clear face of ``wanted`` that ``found`` lacks (IoU < floor)."""
    misses = []
    for box, score in zip(wanted.boxes, wanted.scores, strict=True):
        if score < clear:
            continue
        best = float(_iou(box, found.boxes).max()) if len(found) else 0.0
        if best < floor:
            misses.append((float(score), round(best, 3)))
    return misses


def test_templates_agree_with_the_f32_reference(
    runtime_vision: VisionConfig, reference: Reference
) -> None:
    templates = load_embedder(runtime_vision).embed(reference.crops)

    cosine = (templates * reference.templates).sum(axis=1)
    floor = 0.995 if runtime_vision.precision == "bf16" else 0.999
    assert cosine.min() >= floor, f"lowest cosine {cosine.min():.5f} over {len(cosine)} faces"


def test_templates_of_a_batch_equal_those_made_one_at_a_time(
    runtime_vision: VisionConfig, reference: Reference
) -> None:
    embedder = load_embedder(runtime_vision)
    crops = reference.crops[:12]

    together = embedder.embed(crops)
    alone = np.concatenate([embedder.embed(crops[i : i + 1]) for i in range(len(crops))])

    assert (together * alone).sum(axis=1).min() >= 0.999


def test_detections_agree_with_the_f32_reference(
    runtime_vision: VisionConfig, reference: Reference
) -> None:
    detector = load_detector(runtime_vision)
    clear = runtime_vision.detection_threshold + CLEAR_MARGIN
    floor = 0.8 if runtime_vision.precision == "bf16" else 0.9

    for index, (image, wanted) in enumerate(zip(reference.images, reference.faces, strict=True)):
        found = detector.detect(image)
        assert not _unmatched(found, wanted, clear, floor), f"image {index}: reference faces missed"
        assert not _unmatched(wanted, found, clear, floor), (
            f"image {index}: faces the reference lacks"
        )
        for box, score in zip(wanted.boxes, wanted.scores, strict=True):
            if score >= clear:  # the same face, scored alike (paired by box, not by rank)
                paired = found.scores[int(np.argmax(_iou(box, found.boxes)))]
                assert abs(paired - score) <= 0.03, f"image {index}: {paired} vs {score}"
