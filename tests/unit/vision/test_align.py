"""Five-point alignment: the similarity transform and the warp to the 112×112 template."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from watchkeeper.vision.align import (
    ALIGNED_SIZE,
    REFERENCE_POINTS,
    align_faces,
    crop_with_margin,
    similarity_transform,
)


def _similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = np.radians(angle_deg)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.hstack([rotation, np.array(shift).reshape(2, 1)])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


@pytest.mark.parametrize(
    ("angle", "scale", "shift"),
    [(0.0, 1.0, (0.0, 0.0)), (17.0, 2.5, (-40.0, 13.0)), (-75.0, 0.3, (300.0, 120.0))],
)
def test_similarity_transform_recovers_a_known_rotation_scale_and_shift(
    angle: float, scale: float, shift: tuple[float, float]
) -> None:
    source = np.array([[10.0, 20.0], [55.0, 18.0], [33.0, 47.0], [15.0, 70.0], [50.0, 72.0]])
    known = _similarity(angle, scale, shift)

    found = similarity_transform(source, _apply(known, source))

    np.testing.assert_allclose(found, known, atol=1e-9)


def test_similarity_transform_maps_the_reference_points_onto_themselves() -> None:
    matrix = similarity_transform(REFERENCE_POINTS)

    np.testing.assert_allclose(matrix, np.hstack([np.eye(2), np.zeros((2, 1))]), atol=1e-9)


def test_landmarks_of_a_face_map_onto_the_reference_points() -> None:
    # a face 3× the template size, turned by 30° and placed at (400, 250)
    landmarks = _apply(_similarity(30.0, 3.0, (400.0, 250.0)), REFERENCE_POINTS)

    matrix = similarity_transform(landmarks)

    np.testing.assert_allclose(_apply(matrix, landmarks), REFERENCE_POINTS, atol=1e-9)


def test_similarity_transform_never_mirrors_the_face() -> None:
    mirrored = REFERENCE_POINTS * np.array([-1.0, 1.0])

    matrix = similarity_transform(mirrored)

    assert np.linalg.det(matrix[:, :2]) > 0


def test_align_faces_warps_each_face_to_a_112_crop_with_the_reference_points_in_place() -> None:
    # draw a dot at each landmark of two differently placed faces, then align them
    image = np.zeros((480, 640, 3), np.uint8)
    faces = np.stack(
        [
            _apply(_similarity(0.0, 2.0, (100.0, 80.0)), REFERENCE_POINTS),
            _apply(_similarity(-20.0, 1.5, (380.0, 200.0)), REFERENCE_POINTS),
        ]
    ).astype(np.float32)
    for points in faces:
        for x, y in points:
            cv2.circle(image, (round(x), round(y)), 4, (255, 255, 255), -1)

    crops = align_faces(image, faces)

    assert crops.shape == (2, ALIGNED_SIZE, ALIGNED_SIZE, 3)
    assert crops.dtype == np.uint8
    for crop in crops:
        for x, y in REFERENCE_POINTS:
            assert crop[round(y), round(x)].min() > 200  # the dot landed on its reference point
        assert crop[5, 5].max() == 0  # and the background stayed black


def test_align_faces_of_no_faces_is_an_empty_batch() -> None:
    crops = align_faces(np.zeros((20, 20, 3), np.uint8), np.zeros((0, 5, 2), np.float32))

    assert crops.shape == (0, ALIGNED_SIZE, ALIGNED_SIZE, 3)


def test_crop_with_margin_stays_inside_the_image_and_caps_its_size() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)

    edge = crop_with_margin(image, np.array([0.0, 0.0, 100.0, 120.0]))
    large = crop_with_margin(image, np.array([500.0, 300.0, 1100.0, 1000.0]), max_side=192)

    assert edge.shape[:2] == (169, 141)  # 120 + 0.4 × 120 (+1) rows, cut at the top
    assert max(large.shape[:2]) == 192
