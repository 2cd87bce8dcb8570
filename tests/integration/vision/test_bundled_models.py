"""The bundled YuNet detector and SFace recogniser on real photographs (examples/data)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from watchkeeper.config import VisionConfig
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.factory import load_detector
from watchkeeper.vision.quality import sharpness_score

DATA = Path(__file__).parents[3] / "examples" / "data"
PAIRS = DATA / "deepface-pairs"
MULTIFACE = DATA / "facenet-pytorch" / "multiface.jpg"  # six people, all facing the camera
SELFIE = PAIRS / "selfie-many-people.jpg"


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return image


def _pair_images() -> list[str]:
    with (PAIRS / "master.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return sorted({row["file_x"] for row in rows} | {row["file_y"] for row in rows})


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    left, top = np.maximum(a[:2], b[:2])
    right, bottom = np.minimum(a[2:], b[2:])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union)


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer.from_config(VisionConfig())


def test_bundled_models_are_named_and_run_freed_of_their_exported_sizes(
    analyzer: FaceAnalyzer,
) -> None:
    detector, embedder = analyzer.detector, analyzer.embedder

    assert detector.name == "yunet-2023mar-int8bq@1"
    assert analyzer.model == "sface-2021dec-int8bq@1"
    # YuNet is exported at 640×640 and SFace at batch 1; both must run at any size
    assert detector.fixed_size is None  # type: ignore[attr-defined]
    assert embedder.max_batch == 32  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", _pair_images())
def test_every_photo_of_the_pairs_list_yields_a_face(analyzer: FaceAnalyzer, name: str) -> None:
    faces = analyzer.detector.detect(_read(PAIRS / name))

    assert len(faces) >= 1
    assert faces.scores.min() >= VisionConfig().detection_threshold


@pytest.mark.parametrize(("path", "least"), [(MULTIFACE, 6), (SELFIE, 5)])
def test_group_photos_yield_many_faces(analyzer: FaceAnalyzer, path: Path, least: int) -> None:
    assert len(analyzer.detector.detect(_read(path))) >= least


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_the_same_face_is_found_at_another_scale(analyzer: FaceAnalyzer, factor: float) -> None:
    image = _read(PAIRS / "img2.jpg")
    resized = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)

    original = analyzer.detector.detect(image)
    scaled = analyzer.detector.detect(resized)

    assert len(original) == len(scaled) == 1
    assert _iou(scaled.boxes[0] / factor, original.boxes[0]) > 0.85
    eye_distance = np.linalg.norm(original.landmarks[0, 1] - original.landmarks[0, 0])
    shift = np.linalg.norm(scaled.landmarks[0] / factor - original.landmarks[0], axis=1)
    assert shift.max() < 0.15 * eye_distance  # YuNet's own spread (same as OpenCV's)


def test_min_face_size_drops_the_smaller_faces() -> None:
    image = _read(SELFIE)
    everyone = load_detector(VisionConfig(min_face_size=8)).detect(image)
    large = load_detector(VisionConfig(min_face_size=100)).detect(image)

    assert (everyone.sizes < 100).any()
    assert 0 < len(large) < len(everyone)
    assert large.sizes.min() >= 100


@pytest.mark.parametrize("shape", [(1, 1), (30, 40), (40, 30), (120, 3000), (3000, 120)])
def test_tiny_and_extreme_images_are_analysed_without_error(
    analyzer: FaceAnalyzer, shape: tuple[int, int]
) -> None:
    image = cv2.resize(_read(MULTIFACE), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)

    result = analyzer.analyse(image)

    count = len(result.faces)
    assert result.faces.landmarks.shape == (count, 5, 2)
    assert result.aligned.shape == (count, 112, 112, 3)
    assert result.faces.quality.shape == (count,)


def test_a_wide_strip_of_faces_is_searched_end_to_end(analyzer: FaceAnalyzer) -> None:
    strip = np.hstack([_read(MULTIFACE)] * 3)  # 3600×630: scaled to 1280 before detection

    faces = analyzer.detector.detect(strip)

    thirds = np.bincount((faces.boxes[:, 0] // 1200).astype(int), minlength=3)
    assert (thirds >= 4).all(), thirds


@pytest.mark.parametrize("path", [SELFIE, PAIRS / "img62.jpg", MULTIFACE])
def test_landmarks_lie_inside_their_box(analyzer: FaceAnalyzer, path: Path) -> None:
    image = _read(path)
    faces = analyzer.detector.detect(image)
    height, width = image.shape[:2]

    # boxes are cut at the image border and landmarks are not: check those inside the image
    points = faces.landmarks
    in_image = (points[..., 0] < width - 1) & (points[..., 1] < height - 1) & (points >= 0).all(-1)
    low, high = faces.boxes[:, None, :2] - 1, faces.boxes[:, None, 2:] + 1
    in_box = ((points >= low) & (points <= high)).all(-1)
    assert in_image.any(axis=1).all()
    assert in_box[in_image].all()


def test_batch_and_single_embeddings_are_identical_unit_vectors(analyzer: FaceAnalyzer) -> None:
    aligned = analyzer.analyse(_read(MULTIFACE)).aligned

    together = analyzer.embed(aligned)
    alone = np.concatenate([analyzer.embed(aligned[i : i + 1]) for i in range(len(aligned))])

    assert together.shape == (len(aligned), 128)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_a_blurred_copy_scores_lower_sharpness_and_quality(analyzer: FaceAnalyzer) -> None:
    image = _read(MULTIFACE)  # faces of ~80 px, so the blur survives alignment to 112 px
    sharp = analyzer.analyse(image)
    blurred = analyzer.analyse(cv2.GaussianBlur(image, (0, 0), sigmaX=2))

    assert len(blurred.faces) == len(sharp.faces) == 6
    for i, box in enumerate(sharp.faces.boxes):
        j = int(np.argmax([_iou(box, other) for other in blurred.faces.boxes]))
        pair = np.stack([sharp.aligned[i], blurred.aligned[j]])
        sharp_sharpness, blurred_sharpness = sharpness_score(pair)
        assert blurred_sharpness < sharp_sharpness
        assert blurred.faces.quality[j] < sharp.faces.quality[i]


def test_aligned_crops_put_the_eyes_where_the_template_expects(analyzer: FaceAnalyzer) -> None:
    result = analyzer.analyse(_read(PAIRS / "img2.jpg"))
    again = analyzer.detector.detect(
        cv2.copyMakeBorder(result.aligned[0], 64, 64, 64, 64, cv2.BORDER_REPLICATE)
    )

    # re-detected in the 112×112 crop (padded by 64), the eyes sit near the template's
    eyes = again.landmarks[again.largest(), :2] - 64
    np.testing.assert_allclose(eyes, [[38.3, 51.7], [73.5, 51.5]], atol=4)


def test_analyse_on_no_faces_returns_empty_batches(analyzer: FaceAnalyzer) -> None:
    result = analyzer.analyse(np.full((360, 640, 3), 127, np.uint8))

    assert len(result.faces) == 0
    assert analyzer.embed(result.aligned).shape[0] == 0
