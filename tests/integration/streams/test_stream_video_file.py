"""Video files through PyAV: sampling, timestamps, and damaged or wrong files."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from watchkeeper.domain import Frame
from watchkeeper.streams import SourceError, SourceHealth, open_source

CLIP = Path(__file__).parents[3] / "examples" / "data" / "video" / "facenet-pytorch-video.mp4"
CLIP_FRAMES = 105
CLIP_DURATION_S = 4.212667  # the container's duration (the last frame lasts a little)


@dataclass
class Read:
    """What a full read of the clip gave, without holding 105 full-HD pictures in memory."""

    indices: list[int]
    timestamps: list[float]
    images: dict[int, np.ndarray]
    health: SourceHealth


def read_clip(analysis_fps: float, keep: tuple[int, ...] = (), **kwargs: Any) -> Read:
    source = open_source(str(CLIP), "arcade", analysis_fps=analysis_fps, **kwargs)
    read = Read([], [], {}, source.health)
    for frame in source.frames():
        assert frame.camera == "arcade"
        read.indices.append(frame.index)
        read.timestamps.append(frame.timestamp)
        if frame.index in keep:
            read.images[frame.index] = frame.image
    read.health = source.health
    return read


@pytest.fixture(scope="module")
def every_frame() -> Read:
    return read_clip(25, keep=(15,))


@pytest.fixture(scope="module")
def at_5_fps() -> Read:
    return read_clip(5, keep=(15,))


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip's first 30 frames, for tests that need a video but not its length."""
    path = tmp_path_factory.mktemp("video") / "short.mp4"
    remux(CLIP, path, packets=30)
    return path


def remux(
    src: Path,
    dst: Path,
    options: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    packets: int | None = None,
) -> None:
    """Copy the clip's packets into a new container (no re-encoding: milliseconds).

    Cutting after ``packets`` packets (in decoding order) leaves a whole, valid video.
    """
    with av.open(str(src)) as inp, av.open(str(dst), "w", options=options or {}) as out:
        out.metadata.update(metadata or {})
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        for count, packet in enumerate(inp.demux(stream_in)):
            if packets is not None and count == packets:
                break
            if packet.dts is not None:
                packet.stream = stream_out
                out.mux(packet)


def test_at_the_source_rate_every_frame_comes_out(every_frame: Read) -> None:
    assert every_frame.indices == list(range(CLIP_FRAMES))
    assert every_frame.images[15].shape == (1080, 1920, 3)
    assert every_frame.images[15].dtype == np.uint8


def test_timestamps_increase_by_the_frame_interval(every_frame: Read) -> None:
    assert np.allclose(np.diff(every_frame.timestamps), 0.04, atol=1e-3)


def test_at_5_fps_every_fifth_frame_is_analysed(at_5_fps: Read) -> None:
    assert len(at_5_fps.indices) == 21
    assert set(np.diff(at_5_fps.indices)) == {5}
    assert np.allclose(np.diff(at_5_fps.timestamps), 0.2, atol=1e-3)


def test_sampled_frames_are_the_same_pictures(every_frame: Read, at_5_fps: Read) -> None:
    assert np.array_equal(at_5_fps.images[15], every_frame.images[15])


def test_health_counts_frames_in_and_out(at_5_fps: Read) -> None:
    health = at_5_fps.health
    assert (health.frames_in, health.frames_out, health.errors) == (CLIP_FRAMES, 21, 0)
    assert health.state == "stopped"
    assert health.fps_in > 0 and health.lag_s is None


def test_skipping_nonref_frames_decodes_less_and_keeps_the_rhythm_within_a_frame() -> None:
    read = read_clip(5, skip_nonref=True)
    assert len(read.indices) == 21
    assert set(np.diff(read.indices)) <= {4, 5, 6}
    assert read.health.frames_in < 60  # about half the frames are never decoded


def test_skipping_nonref_is_not_used_when_most_frames_are_analysed(short_clip: Path) -> None:
    source = open_source(str(short_clip), "arcade", analysis_fps=20, skip_nonref=True)
    assert len(list(source.frames())) == 24
    assert source.health.frames_in == 30


def test_file_uri_opens_the_file(short_clip: Path) -> None:
    source = open_source(short_clip.as_uri(), "arcade", analysis_fps=2)
    assert [f.index for f in source.frames()] == [0, 13, 25]


def test_start_time_is_file_mtime_minus_duration(tmp_path: Path) -> None:
    copy = tmp_path / "clip.mp4"
    shutil.copyfile(CLIP, copy)
    os.utime(copy, (1_700_000_000, 1_700_000_000))
    first = next(open_source(str(copy), "arcade", analysis_fps=5).frames())
    assert first.timestamp == pytest.approx(1_700_000_000 - CLIP_DURATION_S, abs=1e-3)


def test_start_time_is_the_container_creation_time_when_recorded(
    tmp_path: Path, short_clip: Path
) -> None:
    stamped = tmp_path / "stamped.mkv"
    remux(short_clip, stamped, metadata={"creation_time": "2024-05-01T12:00:00.000000Z"})
    frames = list(open_source(str(stamped), "arcade", analysis_fps=1).frames())
    start = datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
    assert frames[0].timestamp == pytest.approx(start, abs=1e-3)
    assert frames[1].timestamp == pytest.approx(start + 1.0, abs=1e-3)


def test_file_truncated_before_its_index_fails_at_open(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    data = CLIP.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.4)])  # this clip's index (moov) is at the end
    with pytest.raises(SourceError, match=r"cut\.mp4: is not a video .*corrupt or truncated"):
        open_source(str(cut), "arcade", analysis_fps=5)


def test_file_truncated_mid_data_fails_where_the_data_ends(tmp_path: Path) -> None:
    faststart = tmp_path / "faststart.mp4"
    remux(CLIP, faststart, {"movflags": "faststart"})  # index first, as streamed files are
    cut = tmp_path / "cut.mp4"
    data = faststart.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.4)])
    source = open_source(str(cut), "arcade", analysis_fps=25)
    received: list[Frame] = []
    with pytest.raises(
        SourceError, match=r"cut\.mp4: video data is corrupt or truncated after"
    ) as caught:
        received.extend(source.frames())
    assert 10 < len(received) < CLIP_FRAMES
    assert f"after frame {received[-1].index}" in str(caught.value)
    assert source.health.state == "failed"


def test_text_file_named_mp4_fails_at_open(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are meeting notes, not a video\n" * 50)
    with pytest.raises(SourceError, match=r"notes\.mp4: is not a video that can be read"):
        open_source(str(fake), "arcade", analysis_fps=5)


def test_empty_file_fails_at_open(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=r"empty\.mp4: the file is empty"):
        open_source(str(empty), "arcade", analysis_fps=5)


def test_missing_file_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"gone\.mp4: no such file"):
        open_source(str(tmp_path / "gone.mp4"), "arcade", analysis_fps=5)


def test_close_stops_reading_and_releases_the_file(short_clip: Path) -> None:
    source = open_source(str(short_clip), "arcade", analysis_fps=25)
    frames = source.frames()
    first = [next(frames) for _ in range(3)]
    source.close()
    assert [f.index for f in first] == [0, 1, 2]
    assert list(frames) == []
    assert source.health.state == "stopped"


def test_a_source_closed_before_reading_yields_nothing(short_clip: Path) -> None:
    source = open_source(str(short_clip), "arcade", analysis_fps=25)
    source.close()
    assert list(source.frames()) == []
