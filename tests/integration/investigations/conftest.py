"""Fixtures of the investigation tests: the probe photo (once per session) and a context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from case_kit import REQUESTER

from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, PROBE_FRAME, probe_photo, read_frame
from watchkeeper.vision import FaceAnalyzer


@pytest.fixture(scope="session")
def probe_jpeg(analyzer: FaceAnalyzer) -> bytes:
    """The subject's face from frame 5, cut like a portrait (as ``watchkeeper demo`` does)."""
    frame = read_frame(CLIP, PROBE_FRAME)
    photo, _ = probe_photo(SimpleNamespace(analyzer=analyzer), frame)  # type: ignore[arg-type]
    return photo


@pytest.fixture
def ctx(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[AppContext]:
    context = AppContext(load_settings(data_dir=tmp_path / "data"), actor=REQUESTER)
    context.__dict__["analyzer"] = analyzer  # the session's models: loaded once for all tests
    yield context
    context.close()
