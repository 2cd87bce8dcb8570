"""Sampling keeps a steady analysis rate whatever the source's frame rate."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.streams import Sampler


def sampled(source_fps: float, analysis_fps: float, seconds: float = 10.0) -> list[int]:
    sampler = Sampler(analysis_fps)
    count = round(source_fps * seconds)
    return [i for i in range(count) if sampler.due(i / source_fps)]


def test_25_fps_at_5_takes_every_fifth_frame() -> None:
    assert sampled(25, 5, seconds=2) == list(range(0, 50, 5))


def test_analysis_at_the_source_rate_takes_every_frame() -> None:
    assert sampled(25, 25) == list(range(250))


def test_analysis_above_the_source_rate_takes_every_frame_once() -> None:
    assert sampled(10, 30) == list(range(100))


@pytest.mark.parametrize(("source_fps", "analysis_fps"), [(30, 7), (29.97, 5), (60, 24)])
def test_uneven_ratios_average_out_to_the_analysis_rate(
    source_fps: float, analysis_fps: float
) -> None:
    frames = sampled(source_fps, analysis_fps, seconds=20)
    assert abs(len(frames) - 20 * analysis_fps) <= 1
    gaps = np.diff(frames)
    assert gaps.max() - gaps.min() <= 1


def test_a_gap_in_the_source_restarts_the_rhythm_instead_of_a_burst() -> None:
    sampler = Sampler(5)
    assert sampler.due(0.0)
    assert sampler.due(10.0)  # ten seconds of nothing
    assert not sampler.due(10.04)
    assert not sampler.due(10.16)
    assert sampler.due(10.2)


def test_a_rate_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="above 0"):
        Sampler(0)
