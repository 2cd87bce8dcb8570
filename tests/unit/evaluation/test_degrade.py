"""The degradation ladder's parts: rendering a face small, H.264 round trip, the gate choice."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.evaluation.degrade import (
    CANVAS,
    RungResult,
    markdown_table,
    render,
    smallest_within,
    through_h264,
)

RNG = np.random.default_rng(7)
PHOTO = RNG.integers(0, 255, (600, 400, 3), dtype=np.uint8)
BOX = np.array([100, 150, 300, 450], np.float32)  # a 300 px high "face"


@pytest.mark.parametrize("variant", ["plain", "motion blur", "low light"])
def test_a_face_is_rendered_at_the_asked_height_in_the_canvas(variant: str) -> None:
    canvas = render(PHOTO, BOX, 40, variant)
    assert canvas.shape == (CANVAS[1], CANVAS[0], 3) and canvas.dtype == np.uint8
    if variant == "low light":
        assert canvas.mean() < 0.6 * render(PHOTO, BOX, 40, "plain").mean()
    if variant == "motion blur":  # horizontal smoothing: neighbours in a row agree more
        plain = render(PHOTO, BOX, 40, "plain").astype(float)
        assert (
            np.abs(np.diff(canvas.astype(float), axis=1)).mean()
            < np.abs(np.diff(plain, axis=1)).mean()
        )


def test_an_unknown_variant_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="fog"):
        render(PHOTO, BOX, 40, "fog")


def test_h264_round_trip_keeps_every_picture_and_loses_more_at_higher_crf() -> None:
    pictures = [render(PHOTO, BOX, 64, "plain") for _ in range(3)]
    light, heavy = through_h264(pictures, 18), through_h264(pictures, 40)
    assert len(light) == len(heavy) == 3

    def error(decoded: list[np.ndarray]) -> float:
        pairs = zip(decoded, pictures, strict=True)
        return float(np.mean([np.abs(d.astype(int) - p).mean() for d, p in pairs]))

    assert error(light) < error(heavy)


def rung(height: int, tar: float, crf: int | None = 28) -> RungResult:
    return RungResult(
        height, crf, "plain" if crf else "clean", 10, 1.0, 0.5, tar, None, tar, 0.0, 5, 50
    )


def test_the_smallest_height_is_the_one_from_which_recall_stays_within_ten_points() -> None:
    results = [rung(300, 1.0, None), rung(24, 0.5), rung(32, 0.95), rung(40, 0.85), rung(48, 0.92)]
    assert smallest_within(results) == 48  # 32 is good but 40 is not: the gate must hold above
    assert smallest_within([rung(300, 1.0, None), rung(24, 0.5)]) is None
    table = markdown_table(results)
    assert table.count("\n") == len(results) + 1 and "| 300 | photo | clean |" in table
