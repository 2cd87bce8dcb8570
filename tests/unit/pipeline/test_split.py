"""A closed track is split where its embedded faces, in time order, disagree."""

from __future__ import annotations

import numpy as np

from watchkeeper.domain import Observation
from watchkeeper.pipeline.selection import Moment
from watchkeeper.pipeline.split import split_parts

A = np.array([1.0, 0.0, 0.0], np.float32)
A2 = np.array([0.8, 0.6, 0.0], np.float32)  # cosine 0.8 with A: the same person
B = np.array([0.0, 0.0, 1.0], np.float32)  # cosine 0 with A: someone else


def moment(frame: int, template: np.ndarray | None) -> Moment:
    observation = Observation(
        frame_index=frame, timestamp=frame * 0.2, box=np.zeros(4, np.float32),
        landmarks=np.zeros((5, 2), np.float32), score=0.9, quality=0.5,
        aligned=np.zeros((112, 112, 3), np.uint8), template=template,
    )  # fmt: skip
    return Moment(observation, np.zeros((4, 4, 3), np.uint8), frame, frame, 0.0, 0.0)


def frames(parts: list[list[Moment]]) -> list[list[int]]:
    return [[m.first_frame for m in part] for part in parts]


def test_agreeing_faces_stay_one_track() -> None:
    moments = [moment(0, A), moment(5, None), moment(10, A2)]
    assert frames(split_parts(moments, 0.25)) == [[0, 5, 10]]


def test_two_people_become_two_parts_and_unembedded_stretches_follow_the_earlier() -> None:
    moments = [moment(0, A), moment(5, None), moment(10, B), moment(15, None)]
    assert frames(split_parts(moments, 0.25)) == [[0, 5], [10, 15]]


def test_a_person_who_comes_back_is_a_third_part() -> None:
    moments = [moment(0, A), moment(5, B), moment(10, A2)]
    assert frames(split_parts(moments, 0.25)) == [[0], [5], [10]]


def test_one_embedded_face_cannot_disagree() -> None:
    moments = [moment(0, None), moment(5, A), moment(10, None)]
    assert frames(split_parts(moments, 0.99)) == [[0, 5, 10]]
