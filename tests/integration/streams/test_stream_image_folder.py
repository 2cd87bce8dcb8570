"""A folder of images as a source: good images come out, bad files are skipped and counted."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from watchkeeper.streams import ImageFolderSource, SourceError, open_source

PAIRS = Path(__file__).parents[3] / "examples" / "data" / "deepface-pairs"


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "stills"
    folder.mkdir()
    for position, name in enumerate(["img1.jpg", "img2.jpg", "img3.jpg"]):
        target = folder / f"{position * 2:02d}-{name}"
        shutil.copyfile(PAIRS / name, target)
        os.utime(target, (1_700_000_000 + position, 1_700_000_000 + position))
    (folder / "01-empty.jpg").write_bytes(b"")
    (folder / "03-notes.txt").write_text("not a picture\n")
    (folder / "sub").mkdir()
    return folder


def test_good_images_come_out_in_name_order_and_bad_files_are_counted(
    mixed_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = open_source(str(mixed_folder), "handheld", analysis_fps=5)
    assert isinstance(source, ImageFolderSource)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.streams"):
        frames = list(source.frames())
    assert [f.index for f in frames] == [0, 2, 4]  # positions in the listing
    assert [f.timestamp for f in frames] == [1_700_000_000, 1_700_000_001, 1_700_000_002]
    assert all(f.image.ndim == 3 and f.image.shape[2] == 3 for f in frames)
    health = source.health
    assert (health.frames_in, health.frames_out, health.errors) == (5, 3, 2)
    assert health.state == "stopped"
    assert "03-notes.txt: is not an image" in (health.last_error or "")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "01-empty.jpg: the file is empty" in warnings[0]


def test_every_image_is_analysed_whatever_the_analysis_rate(mixed_folder: Path) -> None:
    source = open_source(str(mixed_folder), "handheld", analysis_fps=0.01)
    assert len(list(source.frames())) == 3


def test_image_over_the_pixel_limit_is_skipped(mixed_folder: Path) -> None:
    source = open_source(str(mixed_folder), "handheld", analysis_fps=5, max_image_pixels=1000)
    assert list(source.frames()) == []
    assert source.health.errors == 5
    assert "more than the 1,000" in (source.health.last_error or "")


def test_folder_as_file_uri(mixed_folder: Path) -> None:
    source = open_source(mixed_folder.as_uri(), "handheld", analysis_fps=5)
    assert len(list(source.frames())) == 3


def test_empty_folder_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"holds no files"):
        open_source(str(tmp_path), "handheld", analysis_fps=5)


def test_close_stops_the_folder(mixed_folder: Path) -> None:
    source = open_source(str(mixed_folder), "handheld", analysis_fps=5)
    frames = source.frames()
    next(frames)
    source.close()
    assert list(frames) == []
    assert source.health.state == "stopped"
