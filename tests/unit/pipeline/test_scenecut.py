"""A shot change or camera jump is seen from a thumbnail; a change of exposure is not one."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from watchkeeper.pipeline.scenecut import SceneCut


@pytest.fixture(scope="module")
def frames(clip: Path) -> list[np.ndarray]:
    with av.open(str(clip)) as container:
        return [
            f.to_ndarray(format="bgr24")
            for i, f in enumerate(container.decode(video=0))
            if i % 5 == 0
        ]


def test_consecutive_frames_of_one_shot_are_never_a_cut(frames: list[np.ndarray]) -> None:
    cut = SceneCut(0.6)
    assert [cut.update(f) for f in frames] == [False] * len(frames)


@pytest.mark.parametrize(
    "jump",
    [
        lambda f: f[:, ::-1],  # mirrored
        lambda f: np.roll(f, (-114, -371), axis=(0, 1)),  # shifted (the spliced test clip)
        lambda f: np.repeat(np.repeat(f[270:810, 480:1440], 2, axis=0), 2, axis=1),  # zoomed in
    ],
)
def test_a_jump_to_a_shifted_mirrored_or_zoomed_picture_is_a_cut(frames, jump) -> None:
    cut = SceneCut(0.6)
    cut.update(frames[9])
    assert cut.update(np.ascontiguousarray(jump(frames[10])))
    assert cut.cuts == 1


def test_a_darker_exposure_is_not_a_cut(frames: list[np.ndarray]) -> None:
    cut = SceneCut(0.6)
    cut.update(frames[3])
    assert not cut.update((frames[4] * 0.5).astype(np.uint8))
