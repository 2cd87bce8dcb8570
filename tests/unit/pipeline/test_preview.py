"""The grey preview is made once per frame and never handed to another frame or thread."""

from __future__ import annotations

import threading

import numpy as np

from watchkeeper.pipeline.preview import PREVIEW_SIDE, grey_preview


def frame(level: int) -> np.ndarray:
    return np.full((1080, 1920, 3), level, np.uint8)


def test_a_frame_gets_a_small_grey_copy_made_once() -> None:
    image = frame(100)
    preview = grey_preview(image)
    assert preview.shape == (90, PREVIEW_SIDE) and preview.dtype == np.uint8
    assert int(preview[0, 0]) == 100
    assert grey_preview(image) is preview  # the gate and the scene-cut test share it


def test_another_frame_equal_or_not_gets_its_own_copy() -> None:
    first, second = frame(10), frame(200)
    assert int(grey_preview(first)[0, 0]) == 10
    assert int(grey_preview(second)[0, 0]) == 200
    assert int(grey_preview(first)[0, 0]) == 10
    again = frame(10)
    assert grey_preview(again) is not grey_preview(first)


def test_each_thread_keeps_its_own_last_frame() -> None:
    mine = frame(50)
    kept = grey_preview(mine)
    seen: list[int] = []
    other = threading.Thread(target=lambda: seen.append(int(grey_preview(frame(150))[0, 0])))
    other.start()
    other.join()
    assert seen == [150]
    assert grey_preview(mine) is kept  # the other camera's frame did not displace this one
