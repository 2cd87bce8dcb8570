"""How usable a face is for recognition, as one score in 0..1.

Four cues that are cheap to compute for every detection: the face's size in pixels, the
sharpness of the aligned crop, how frontal the pose is (from the five landmarks) and the
detector's own confidence. They are combined as a weighted geometric mean, so a face that
fails badly on any one cue (tiny, blurred or in profile) scores low whatever the others say.
The pipeline uses the score to choose which frames of a track to embed, enrolment to refuse
unusable photos.
"""

from __future__ import annotations

import cv2
import numpy as np

from watchkeeper.domain import Faces, FloatArray

GOOD_FACE_SIZE = 80.0  # pixels of the shorter box side beyond which size stops helping
SHARPNESS_SCALE = 60.0  # Laplacian variance of a crisp 112×112 face is several hundred
WEIGHTS = {"size": 0.3, "sharpness": 0.2, "pose": 0.3, "detector": 0.2}


def size_score(faces: Faces, min_size: float = 12.0) -> FloatArray:
    scores: FloatArray = np.clip(
        (faces.sizes - min_size) / (GOOD_FACE_SIZE - min_size), 0.0, 1.0
    ).astype(np.float32)
    return scores


def sharpness_score(aligned: np.ndarray) -> FloatArray:
    """1 − exp(−var(Laplacian)/scale) on the central part of each aligned crop."""
    values = np.empty(len(aligned), np.float32)
    for i, crop in enumerate(aligned):
        gray = cv2.cvtColor(crop[16:96, 16:96], cv2.COLOR_BGR2GRAY)
        values[i] = cv2.Laplacian(gray, cv2.CV_32F).var()
    scores: FloatArray = (1.0 - np.exp(-values / SHARPNESS_SCALE)).astype(np.float32)
    return scores


def pose_score(landmarks: FloatArray) -> FloatArray:
    """Frontalness from the landmarks: yaw from the nose's offset, roll from the eye line."""
    right_eye, left_eye, nose = landmarks[:, 0], landmarks[:, 1], landmarks[:, 2]
    mouth = (landmarks[:, 3] + landmarks[:, 4]) / 2
    eyes_mid = (right_eye + left_eye) / 2
    eye_vector = left_eye - right_eye
    eye_distance = np.maximum(np.linalg.norm(eye_vector, axis=1), 1e-6)
    roll = np.abs(np.arctan2(eye_vector[:, 1], eye_vector[:, 0]))
    # project the nose on the eye line: 0 when centred, ±0.5 when at an eye (profile)
    along = ((nose - eyes_mid) * eye_vector).sum(axis=1) / eye_distance**2
    yaw_score = np.clip(1.0 - np.abs(along) / 0.45, 0.0, 1.0)
    roll_score = np.clip(1.0 - roll / np.radians(45), 0.0, 1.0)
    # pitch: the nose sits about halfway between the eye line and the mouth when frontal
    face_height = np.maximum(np.linalg.norm(mouth - eyes_mid, axis=1), 1e-6)
    nose_drop = np.linalg.norm(nose - eyes_mid, axis=1) / face_height
    pitch_score = np.clip(1.0 - np.abs(nose_drop - 0.55) / 0.45, 0.0, 1.0)
    scores: FloatArray = (yaw_score * roll_score * pitch_score).astype(np.float32)
    return scores


def quality_scores(faces: Faces, aligned: np.ndarray) -> FloatArray:
    """The combined quality of each face (weighted geometric mean of the four cues)."""
    if len(faces) == 0:
        return np.zeros(0, np.float32)
    cues = {
        "size": size_score(faces),
        "sharpness": sharpness_score(aligned),
        "pose": pose_score(faces.landmarks),
        "detector": np.clip(faces.scores, 0.0, 1.0),
    }
    log_total = sum(WEIGHTS[k] * np.log(np.maximum(v, 1e-3)) for k, v in cues.items())
    scores: FloatArray = np.exp(log_total).astype(np.float32)
    return scores
