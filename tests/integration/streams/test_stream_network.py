"""Network streams: MJPEG over a real local HTTP server, refusals and timeouts, reconnection."""

from __future__ import annotations

import http.server
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from watchkeeper.domain import Frame, ImageArray
from watchkeeper.streams import ReconnectingSource, SourceError, open_source
from watchkeeper.vision.imageio import encode_jpeg

CLIP = Path(__file__).parents[3] / "examples" / "data" / "video" / "facenet-pytorch-video.mp4"
BOUNDARY = b"frame"


@dataclass
class Feed:
    """What the in-test camera serves on every GET: JPEG parts of multipart/x-mixed-replace."""

    jpegs: list[bytes]
    interval_s: float = 0.0
    stall_after: int | None = None  # stop sending (but keep the connection) after this many
    stop: threading.Event = field(default_factory=threading.Event)
    requests: int = 0


@pytest.fixture(scope="module")
def pictures() -> list[ImageArray]:
    """The clip's first 25 frames at 480×270, as a small MJPEG camera would send them."""
    source = open_source(str(CLIP), "clip", analysis_fps=25)
    images = []
    for frame in source.frames():
        images.append(cv2.resize(frame.image, (480, 270), interpolation=cv2.INTER_AREA))
        if len(images) == 25:
            source.close()
    return images


def serve(feed: Feed) -> Iterator[str]:
    class Camera(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed.requests += 1
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY!s}")
            self.end_headers()
            for count, jpeg in enumerate(feed.jpegs):
                if feed.stall_after is not None and count == feed.stall_after:
                    feed.stop.wait(10)
                    return
                head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                try:
                    self.wfile.write(head % (BOUNDARY, len(jpeg)) + jpeg + b"\r\n")
                except OSError:
                    return
                if feed.stop.wait(feed.interval_s):
                    return

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Camera)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    finally:
        feed.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word: a hung camera."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def read_until_error(uri: str, **kwargs: object) -> tuple[list[Frame], SourceError]:
    source = open_source(uri, "door", **kwargs)  # type: ignore[arg-type]
    frames: list[Frame] = []
    with pytest.raises(SourceError) as caught:
        frames.extend(source.frames())
    return frames, caught.value


def test_mjpeg_over_http_yields_the_served_pictures(pictures: list[ImageArray]) -> None:
    # Sent at 50 fps and analysed at up to 100: a live source samples by wall-clock time, so
    # only frames that the reader falls behind on (a burst) may be skipped.
    feed = Feed([encode_jpeg(p, quality=90) for p in pictures], interval_s=0.02)
    for url in serve(feed):
        started = time.time()
        frames, error = read_until_error(url, analysis_fps=100)
        assert len(frames) >= 15
        assert np.all(np.diff([f.index for f in frames]) > 0)
        assert frames[0].image.shape == (270, 480, 3)
        for frame in frames:
            diff = np.abs(frame.image.astype(int) - pictures[frame.index].astype(int)).mean()
            assert diff < 4
        assert started <= frames[0].timestamp <= frames[-1].timestamp <= time.time()
        assert "stream dropped after" in str(error)


def test_live_stream_is_sampled_at_the_analysis_rate(pictures: list[ImageArray]) -> None:
    feed = Feed([encode_jpeg(p) for p in pictures], interval_s=0.04)  # 25 fps for 1 s
    for url in serve(feed):
        source = open_source(url, "door", analysis_fps=5)
        frames: list[Frame] = []
        with pytest.raises(SourceError):
            frames.extend(source.frames())
        assert 3 <= len(frames) <= 8
        assert source.health.frames_in >= 24
        assert source.health.lag_s is not None and 0 <= source.health.lag_s < 1


def test_a_stalled_stream_fails_after_the_read_timeout(pictures: list[ImageArray]) -> None:
    feed = Feed([encode_jpeg(p) for p in pictures[:10]], interval_s=0.02, stall_after=3)
    for url in serve(feed):
        started = time.monotonic()
        frames, error = read_until_error(url, analysis_fps=100, read_timeout_s=1.0)
        assert time.monotonic() - started < 4
        assert frames
        assert re.search(r"stream dropped after [23] frames", str(error))


@pytest.mark.parametrize("uri", ["rtsp://127.0.0.1:9/x", "http://127.0.0.1:9/stream.mjpg"])
def test_closed_port_fails_at_open_within_the_timeout(uri: str) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"127\.0\.0\.1:9/.*: cannot open the stream \(.*\)$"):
        open_source(uri, "door", analysis_fps=5, open_timeout_s=2)
    assert time.monotonic() - started < 2 + 2


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_silent_server_fails_at_open_within_the_timeout(scheme: str, silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"cannot open the stream \(no answer within 1 s\)"):
        open_source(f"{scheme}://127.0.0.1:{silent_port}/x", "door", 5, open_timeout_s=1)
    assert time.monotonic() - started < 1 + 2


def test_reconnecting_source_keeps_trying_an_unreachable_camera_and_stops_on_close() -> None:
    source = open_source(
        "rtsp://127.0.0.1:9/x",
        "door",
        analysis_fps=5,
        open_timeout_s=1,
        reconnect=True,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
    )
    assert isinstance(source, ReconnectingSource)
    finished = threading.Event()
    threading.Thread(target=lambda: (list(source.frames()), finished.set()), daemon=True).start()
    deadline = time.monotonic() + 5
    while source.health.attempts < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    health = source.health
    assert health.attempts >= 3
    assert health.state in ("connecting", "reconnecting")
    assert "cannot open the stream" in (health.last_error or "")
    source.close()
    assert finished.wait(1.0)
    assert source.health.state == "stopped"


def test_reconnecting_source_resumes_after_the_camera_drops(pictures: list[ImageArray]) -> None:
    feed = Feed([encode_jpeg(p) for p in pictures[:6]])  # every connection ends after 6
    for url in serve(feed):
        source = open_source(
            url, "door", analysis_fps=100, reconnect=True, backoff_base_s=0.01, backoff_cap_s=0.05
        )
        frames = source.frames()
        received = [next(frames) for _ in range(14)]
        source.close()
        assert len(received) == 14
        assert feed.requests >= 3
        assert source.health.attempts >= 3
        assert source.health.frames_out == 14
        assert source.health.state == "stopped"
