"""Reconnection with full-jitter back-off, driven by a camera that fails on cue."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from watchkeeper.domain import Frame
from watchkeeper.streams import ReconnectingSource, SourceError, SourceHealth
from watchkeeper.streams.reconnect import backoff_delay


class FlakyCamera:
    """A stand-in for a network camera: delivers a few frames, then drops the connection."""

    def __init__(self, name: str, frames: int) -> None:
        self.name = name
        self.count = frames
        self.closed = False

    def frames(self) -> Iterator[Frame]:
        for i in range(self.count):
            yield Frame(self.name, i, time.time(), np.zeros((2, 2, 3), np.uint8))
        raise SourceError(f"{self.name}: stream dropped after {self.count} frames")

    def close(self) -> None:
        self.closed = True

    @property
    def health(self) -> SourceHealth:
        return SourceHealth(state="connected", frames_in=self.count)


def unreachable() -> FlakyCamera:
    raise SourceError("rtsp://cam/x: cannot open the stream (Connection refused)")


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    rng = random.Random(1)
    ceilings = [max(backoff_delay(n, 0.5, 8.0, rng) for _ in range(2000)) for n in range(1, 8)]
    assert ceilings[0] <= 0.5 and ceilings[0] > 0.45
    assert 1.8 < ceilings[2] <= 2.0
    assert all(7.5 < c <= 8.0 for c in ceilings[4:])


def test_backoff_is_jittered_down_to_zero() -> None:
    rng = random.Random(2)
    delays = [backoff_delay(3, 1.0, 60.0, rng) for _ in range(2000)]
    assert min(delays) < 0.05
    assert 1.8 < float(np.mean(delays)) < 2.2


def test_a_dropped_stream_is_reopened_and_frames_keep_coming() -> None:
    opened: list[FlakyCamera] = []

    def opener() -> FlakyCamera:
        opened.append(FlakyCamera("gate", frames=3))
        return opened[-1]

    source = ReconnectingSource(opener, "gate", backoff_base_s=0.001, backoff_cap_s=0.001)
    frames = source.frames()
    received = [next(frames) for _ in range(7)]
    assert len(received) == 7
    assert len(opened) == 3
    assert all(camera.closed for camera in opened[:2])
    health = source.health
    assert health.attempts == 3
    assert health.errors == 2
    assert health.frames_out == 7
    assert "stream dropped" in (health.last_error or "")
    source.close()
    assert list(frames) == []
    assert source.health.state == "stopped"


def test_gives_up_after_max_attempts_and_reports_failed() -> None:
    source = ReconnectingSource(
        unreachable, "gate", backoff_base_s=0.001, backoff_cap_s=0.001, max_attempts=4
    )
    with pytest.raises(SourceError, match=r"gate: gave up after 4 failed attempts .*refused"):
        list(source.frames())
    assert source.health.state == "failed"
    assert source.health.attempts == 4


def test_close_from_another_thread_ends_the_backoff_wait_at_once() -> None:
    source = ReconnectingSource(unreachable, "gate", backoff_base_s=30.0, backoff_cap_s=30.0)
    source._rng = random.Random(0)  # a wait of several seconds
    done = threading.Event()
    states: list[str] = []

    def read() -> None:
        list(source.frames())
        done.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 2
    while source.health.state != "reconnecting" and time.monotonic() < deadline:
        time.sleep(0.01)
    states.append(source.health.state)
    started = time.monotonic()
    source.close()
    assert done.wait(1.0)
    assert time.monotonic() - started < 0.5
    assert states == ["reconnecting"]
    assert source.health.state == "stopped"
