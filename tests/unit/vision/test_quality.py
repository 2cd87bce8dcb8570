"""Quality cues that need no image: pose from the five landmarks, size from the box."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.domain import Faces
from watchkeeper.vision.align import REFERENCE_POINTS
from watchkeeper.vision.quality import pose_score, quality_scores, size_score

FRONTAL = REFERENCE_POINTS.astype(np.float32)


def _profile(fraction: float) -> np.ndarray:
    """The frontal landmarks with the nose moved ``fraction`` of the eye distance sideways."""
    points = FRONTAL.copy()
    eye_distance = points[1, 0] - points[0, 0]
    points[2, 0] += fraction * eye_distance
    return points


def _rolled(degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = FRONTAL.mean(axis=0)
    return ((FRONTAL - centre) @ rotation.T + centre).astype(np.float32)


def _faces(landmarks: list[np.ndarray], side: float = 100.0) -> Faces:
    count = len(landmarks)
    return Faces(
        boxes=np.tile(np.array([0.0, 0.0, side, side], np.float32), (count, 1)),
        landmarks=np.stack(landmarks).astype(np.float32),
        scores=np.full(count, 0.9, np.float32),
    )


def test_frontal_landmarks_score_a_high_pose() -> None:
    # not 1: the pitch cue expects YuNet's nose, a little lower than the ArcFace template's
    assert pose_score(FRONTAL[None])[0] > 0.85


def test_pose_score_falls_as_the_face_turns_towards_profile() -> None:
    scores = pose_score(np.stack([FRONTAL, _profile(0.15), _profile(0.3), _profile(0.5)]))

    assert list(scores) == sorted(scores, reverse=True)
    assert scores[0] - scores[2] > 0.3
    assert scores[3] == 0.0  # nose at the eye: a profile


def test_pose_score_is_the_same_for_both_directions_of_turn() -> None:
    left, right = pose_score(np.stack([_profile(-0.3), _profile(0.3)]))

    assert left == pytest.approx(right, abs=0.01)  # the template's nose is 0.1 px off-centre


def test_pose_score_falls_with_head_roll() -> None:
    level, tilted, sideways = pose_score(np.stack([FRONTAL, _rolled(20), _rolled(50)]))

    assert level > tilted > sideways


def test_size_score_rises_with_face_size_up_to_a_good_size() -> None:
    small, medium, good, huge = (
        size_score(_faces([FRONTAL], side=side))[0] for side in (12, 40, 80, 400)
    )

    assert small == 0.0
    assert 0.0 < medium < good == huge == 1.0


def test_profile_face_scores_lower_quality_than_a_frontal_one() -> None:
    faces = _faces([FRONTAL, _profile(0.4)])
    crops = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    crops[1] = crops[0]  # the same pixels, so only the pose differs

    frontal, profile = quality_scores(faces, crops)

    assert profile < frontal


def test_quality_of_no_faces_is_empty() -> None:
    assert quality_scores(Faces.empty(), np.zeros((0, 112, 112, 3), np.uint8)).shape == (0,)
