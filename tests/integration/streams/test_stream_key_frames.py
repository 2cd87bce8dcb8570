"""Key frames only while a camera's picture is still: fewer frames decoded, none decoded wrong.

The videos are the arcade clip's first frame (real pixels) encoded with a chosen key-frame
interval, a bright bar crossing it so that every frame differs from the last.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from support.camera_servers import RtspServer
from support.video import write_h264
from watchkeeper.streams import KeyFrameSource, RewindableSource, open_source

CLIP = Path(__file__).parents[3] / "examples" / "data" / "video" / "facenet-pytorch-video.mp4"
RATE = 25


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    with av.open(str(CLIP)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    return cv2.resize(first, (640, 360))


def video(scene: np.ndarray, path: Path, gop: int, frames: int) -> Path:
    """``frames`` pictures of the scene, a bar moving 4 px a frame; a key frame every ``gop``."""

    def picture(index: int) -> np.ndarray:
        moved = scene.copy()
        moved[150:200, 4 * index : 4 * index + 40] = 255
        return moved

    return write_h264(path, (picture(i) for i in range(frames)), RATE, key_interval=gop)


def every_picture(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def test_a_still_camera_decodes_its_key_frames_alone(scene: np.ndarray, tmp_path: Path) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=100)
    source = open_source(str(path), "c", analysis_fps=RATE)
    assert isinstance(source, KeyFrameSource)
    indices = []
    for frame in source.frames():
        indices.append(frame.index)
        source.key_frames_only(True)
    # every frame until two key-frame intervals were timed (keys at 0, 10, 20), then the keys
    assert indices == [*range(20), 20, 30, 40, 50, 60, 70, 80, 90]
    health = source.health
    assert health.key_frames_only and health.frames_in == len(indices)
    # no "truncated" error: the file ended while its last frames were left undecoded


def test_waking_after_a_key_frame_decodes_every_later_frame_exactly(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=100)
    reference = every_picture(path)
    source = open_source(str(path), "c", analysis_fps=RATE)
    seen = {}
    for frame in source.frames():
        seen[frame.index] = frame.image
        source.key_frames_only(frame.index < 50)  # wakes on the key frame at 50
    assert [i for i in sorted(seen) if i >= 20] == [20, 30, 40, *range(50, 100)]
    for index in range(50, 100):
        assert np.array_equal(seen[index], reference[index]), f"frame {index} decoded wrong"
    assert not source.health.key_frames_only


def test_a_stream_whose_key_frames_are_far_apart_always_decodes_every_frame(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = video(scene, tmp_path / "gop75.mp4", gop=75, frames=300)  # a key frame every 3 s
    source = open_source(str(path), "c", analysis_fps=RATE, max_key_interval_s=2.0)
    indices = []
    for frame in source.frames():
        indices.append(frame.index)
        source.key_frames_only(True)
    assert indices == list(range(300))
    assert not source.health.key_frames_only


def test_a_live_rtsp_camera_decodes_key_frames_alone_and_wakes(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=100)  # a key frame every 0.4 s
    server = RtspServer(path).start()
    phases = {"awake": 30, "asleep": 8, "woken": 30}  # frames handed out in each
    times: dict[str, list[float]] = {phase: [] for phase in phases}
    resting: list[bool] = []
    try:
        source = open_source(server.url, "gate", analysis_fps=RATE, reconnect=True)
        assert isinstance(source, KeyFrameSource)
        frames = source.frames()
        for phase, count in phases.items():
            source.key_frames_only(phase == "asleep")
            for frame in itertools.islice(frames, count):
                times[phase].append(frame.timestamp)
            resting.append(source.health.key_frames_only)
        source.close()
    finally:
        server.stop()
    assert resting == [False, True, False]
    gaps = {phase: float(np.median(np.diff(stamps[-6:]))) for phase, stamps in times.items()}
    assert gaps["awake"] < 0.08 and gaps["woken"] < 0.08  # 25 frames a second
    assert 0.25 < gaps["asleep"] < 0.6  # the key frames: one every 0.4 s


def test_a_recording_rewound_on_a_key_frame_first_hands_out_the_frames_it_left_undecoded(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=100)
    reference = every_picture(path)
    source = open_source(str(path), "c", analysis_fps=5)  # every 5th frame is due
    assert isinstance(source, RewindableSource)
    indices, refused = [], []
    for frame in source.frames():
        # a reader at rest sees on key frames 20 and 60 that the picture changed
        first_look = frame.index in (20, 60) and frame.index not in refused + indices
        if first_look and source.rewind():
            refused.append(frame.index)
            continue
        indices.append(frame.index)
        assert np.array_equal(frame.image, reference[frame.index]), f"frame {frame.index}"
        source.key_frames_only(True)
    # at rest from 20 on; the first key frame at rest has none before it to go back to
    assert refused == [60]
    assert indices == [0, 5, 10, 15, 20, 30, 40, 50, 55, 60, 70, 80, 90]
    assert source.health.key_frames_only


def test_a_recording_is_not_rewound_while_every_frame_is_decoded(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=60)
    source = open_source(str(path), "c", analysis_fps=5)
    assert isinstance(source, RewindableSource)
    assert not any(source.rewind() for _ in source.frames())


def _bar_at(image: np.ndarray, scene: np.ndarray) -> int:
    """Which picture of ``video`` this is: where its bar begins (4 px a frame)."""
    changed = np.abs(image[160:190].astype(int) - scene[160:190]).mean(axis=(0, 2)) > 60
    return round(int(np.argmax(changed)) / 4)


def test_a_live_camera_set_to_rewind_first_hands_out_the_frames_it_left_undecoded(
    scene: np.ndarray, tmp_path: Path
) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=100)  # a key frame every 0.4 s
    server = RtspServer(path).start()
    try:
        source = open_source(
            server.url, "gate", analysis_fps=RATE, rewind_live=True, reconnect=True
        )
        assert isinstance(source, RewindableSource)
        frames = source.frames()
        for _ in itertools.islice(frames, 30):  # awake
            pass
        source.key_frames_only(True)
        woken = next(frame for frame in frames if source.rewind())  # the second key frame at rest
        again = list(itertools.islice(frames, 10))
        source.close()
    finally:
        server.stop()
    # the nine frames between the key frame before and this one, then this one: in order,
    # stamped 40 ms apart from the key frame before, ending near the time this one had
    pictures = [_bar_at(frame.image, scene) for frame in again]
    last = _bar_at(woken.image, scene)
    assert pictures == [(last - 9 + i) % 100 for i in range(10)]
    gaps = np.diff([frame.timestamp for frame in again])
    assert np.allclose(gaps, 1 / RATE, atol=0.005)
    assert again[-1].timestamp == pytest.approx(woken.timestamp, abs=0.05)


def test_a_live_camera_does_not_rewind_unless_set_to(scene: np.ndarray, tmp_path: Path) -> None:
    path = video(scene, tmp_path / "gop10.mp4", gop=10, frames=100)
    server = RtspServer(path).start()
    try:
        source = open_source(server.url, "gate", analysis_fps=RATE, reconnect=True)
        frames = source.frames()
        for _ in itertools.islice(frames, 30):
            pass
        source.key_frames_only(True)
        asked = []  # at each of four key frames read at rest, as the camera worker asks
        for _ in itertools.islice(frames, 4):
            asked.append(isinstance(source, RewindableSource) and source.rewind())
        source.close()
    finally:
        server.stop()
    assert not any(asked)
