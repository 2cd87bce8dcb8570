"""Verification accuracy of the default detect → align → embed path on labelled photo pairs.

deepface's master.csv lists 300 pairs of 25 photos (mostly celebrities), each marked as the
same person or not. The bundled SFace model at OpenCV's published threshold must decide at
least 98 % of them correctly; a regression in alignment, normalisation or model repair shows
up here first (a wrong channel order alone drops it far below).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from watchkeeper.config import MatchingConfig, VisionConfig
from watchkeeper.vision import FaceAnalyzer

PAIRS = Path(__file__).parents[3] / "examples" / "data" / "deepface-pairs"


def _pairs() -> list[tuple[str, str, bool]]:
    with (PAIRS / "master.csv").open(newline="", encoding="utf-8") as handle:
        return [(r["file_x"], r["file_y"], r["Decision"] == "Yes") for r in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def templates() -> dict[str, np.ndarray]:
    """One template per photo: its largest face, detected, aligned and embedded once."""
    analyzer = FaceAnalyzer.from_config(VisionConfig())
    names = sorted({name for x, y, _ in _pairs() for name in (x, y)})
    found = {}
    for name in names:
        result = analyzer.analyse(cv2.imread(str(PAIRS / name)))
        assert len(result.faces), f"no face found in {name}"
        largest = result.faces.largest()
        found[name] = analyzer.embed(result.aligned[largest : largest + 1])[0]
    return found


def test_default_models_decide_at_least_98_percent_of_pairs_correctly(
    templates: dict[str, np.ndarray],
) -> None:
    threshold = MatchingConfig().default_threshold
    pairs = _pairs()

    wrong = [
        (x, y, same, round(float(templates[x] @ templates[y]), 3))
        for x, y, same in pairs
        if (float(templates[x] @ templates[y]) >= threshold) != same
    ]

    accuracy = 1 - len(wrong) / len(pairs)
    assert len(pairs) == 300
    assert accuracy >= 0.98, f"accuracy {accuracy:.3f}; wrong decisions: {wrong}"


def test_same_person_pairs_score_well_above_different_person_pairs(
    templates: dict[str, np.ndarray],
) -> None:
    same, different = [], []
    for x, y, is_same in _pairs():
        (same if is_same else different).append(float(templates[x] @ templates[y]))

    assert np.median(same) - np.median(different) > 0.4
