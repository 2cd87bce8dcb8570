"""Shared fixtures: the real example data and the real models, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.config import Settings, load_settings
from watchkeeper.vision import FaceAnalyzer

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "data"
CLIP = EXAMPLES / "video" / "facenet-pytorch-video.mp4"
DEEPFACE = EXAMPLES / "deepface-pairs"


@pytest.fixture(scope="session")
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def clip() -> Path:
    return CLIP


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer.from_config(Settings().vision)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")
