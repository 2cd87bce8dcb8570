"""The live view blurs every head and face it draws: no detail of a face survives."""

from __future__ import annotations

import numpy as np

from watchkeeper.crowd.render import blur_heads, draw
from watchkeeper.crowd.tiling import People
from watchkeeper.crowd.zones import whole_picture


def noisy(height: int = 400, width: int = 600) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)


def detail(patch: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours: high for fine detail."""
    return float(np.abs(np.diff(patch.astype(np.int16), axis=1)).mean())


def test_the_head_region_of_a_person_box_loses_its_detail_and_the_legs_keep_theirs() -> None:
    image = noisy()
    people = People(np.array([[100, 50, 200, 350]], np.float32), np.ones(1, np.float32))
    out = blur_heads(image, people)
    assert detail(out[60:120, 110:190]) < detail(image[60:120, 110:190]) / 5
    np.testing.assert_array_equal(out[300:340, 110:190], image[300:340, 110:190])


def test_a_face_box_outside_any_person_box_is_blurred_too() -> None:
    image = noisy()
    out = blur_heads(image, People.empty(), np.array([[400, 100, 460, 170]], np.float32))
    assert detail(out[110:160, 410:450]) < detail(image[110:160, 410:450]) / 5


def test_drawing_never_changes_the_frame_it_was_given() -> None:
    image = noisy()
    before = image.copy()
    people = People(np.array([[100, 50, 200, 350]], np.float32), np.ones(1, np.float32))
    draw(image, [whole_picture()], people)
    np.testing.assert_array_equal(image, before)
