"""The bundled person detector: checked before loading, and counting the real clip well enough.

The labels are hand counts of 10 frames of the bundled 1080p arcade clip
(``tests/data/crowd-labels.json``). Tiling must bring the mean absolute error under 20 % of
the true count (the issue's target); the whole frame alone misses most of the crowd, which is
the reason tiling exists, so that is checked too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from watchkeeper.config import Settings
from watchkeeper.crowd.detector import (
    PERSON_MODEL,
    SsdPersonDetector,
    load_person_detector,
    person_runtime,
)
from watchkeeper.crowd.tiling import TiledDetector
from watchkeeper.domain import ImageArray
from watchkeeper.vision.models import ModelError

LABELS = Path(__file__).parents[2] / "data" / "crowd-labels.json"


@pytest.fixture(scope="module")
def detector() -> SsdPersonDetector:
    return load_person_detector(Settings().vision, Settings().crowd)


@pytest.fixture(scope="module")
def labelled(clip: Path) -> list[tuple[ImageArray, int]]:
    counts = {f["frame"]: f["people"] for f in json.loads(LABELS.read_text())["frames"]}
    frames = {}
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in counts:
                frames[index] = frame.to_ndarray(format="bgr24")
    return [(frames[i], counts[i]) for i in sorted(counts)]


def test_an_altered_model_file_is_refused_before_loading(tmp_path: Path) -> None:
    altered = tmp_path / "frozen_inference_graph.pb"
    shutil.copyfile(PERSON_MODEL.path(), altered)
    with altered.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="SHA-256"):
        SsdPersonDetector(
            person_runtime(Settings().vision, Settings().crowd), altered, PERSON_MODEL.sha256
        )


def relative_errors(tiled: TiledDetector, labelled: list[tuple[ImageArray, int]]) -> np.ndarray:
    return np.array([(len(tiled.detect(image)) - true) / true for image, true in labelled])


def test_tiled_counting_is_within_20_percent_of_the_hand_counts(
    detector: SsdPersonDetector, labelled: list[tuple[ImageArray, int]]
) -> None:
    errors = relative_errors(TiledDetector(detector), labelled)
    assert np.abs(errors).mean() <= 0.20, errors


def test_the_whole_frame_alone_misses_much_of_the_crowd(
    detector: SsdPersonDetector, labelled: list[tuple[ImageArray, int]]
) -> None:
    errors = relative_errors(TiledDetector(detector, columns=1, rows=1), labelled)
    assert errors.mean() < -0.3, errors
