"""How a source is doing, in figures an operator can read: state, rates, errors, lag.

A source updates its :class:`HealthRecorder` as it reads; anyone (the health endpoint, the
metrics exporter, another thread) asks for a :class:`SourceHealth` snapshot, a plain value
that can be pickled and sent elsewhere.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Literal

State = Literal["connecting", "connected", "reconnecting", "failed", "stopped"]


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """A snapshot of a source's condition.

    ``frames_in`` counts decoded source frames, ``frames_out`` those handed on for analysis;
    ``errors`` counts the faults the source survived (a skipped file, a damaged packet, a
    dropped connection that was reopened), while a fatal one sets ``state`` to "failed";
    ``last_error`` is the latest of either kind. The rates are moving averages over recent
    frames (per second of wall-clock time), and ``lag_s`` is how far behind real time the
    last frame of a live source was. ``key_frames_only`` is set while the source decodes
    only its key frames because the camera's picture has been still (``frames_in`` and
    ``fps_in`` then count those alone).
    """

    state: State = "connecting"
    frames_in: int = 0
    frames_out: int = 0
    errors: int = 0
    attempts: int = 0
    last_error: str | None = None
    last_frame_at: float | None = None
    fps_in: float = 0.0
    fps_out: float = 0.0
    lag_s: float | None = None
    key_frames_only: bool = False


class RateMeter:
    """An event rate as an exponential moving average of the gaps between events.

    Averaging the gaps (not counting per second) gives a figure after two events and lets
    one hiccup move it a little without hiding a lasting change.
    """

    def __init__(self, smoothing: float = 0.1) -> None:
        self.smoothing = smoothing
        self._last: float | None = None
        self._gap: float | None = None

    def tick(self, now: float) -> None:
        if self._last is not None:
            gap = max(now - self._last, 1e-9)
            self._gap = gap if self._gap is None else self._gap + self.smoothing * (gap - self._gap)
        self._last = now

    @property
    def rate(self) -> float:
        return 0.0 if not self._gap else 1.0 / self._gap


class HealthRecorder:
    """The mutable side of :class:`SourceHealth`, written by the reading thread only."""

    def __init__(self, state: State = "connecting") -> None:
        self._lock = threading.Lock()
        self._health = SourceHealth(state=state)
        self._in = RateMeter()
        self._out = RateMeter()

    def snapshot(self) -> SourceHealth:
        with self._lock:
            return dataclasses.replace(self._health, fps_in=self._in.rate, fps_out=self._out.rate)

    def set_state(self, state: State) -> None:
        self._update(state=state)

    def attempt(self) -> None:
        with self._lock:
            self._health = dataclasses.replace(self._health, attempts=self._health.attempts + 1)

    def frame_in(self) -> None:
        with self._lock:
            self._in.tick(time.monotonic())
            self._health = dataclasses.replace(self._health, frames_in=self._health.frames_in + 1)

    def frame_out(self, timestamp: float, live: bool) -> None:
        now = time.time()
        with self._lock:
            self._out.tick(time.monotonic())
            self._health = dataclasses.replace(
                self._health,
                frames_out=self._health.frames_out + 1,
                last_frame_at=now,
                lag_s=now - timestamp if live else None,
            )

    def key_frames_only(self, on: bool) -> None:
        self._update(key_frames_only=on)

    def error(self, message: str) -> None:
        with self._lock:
            self._health = dataclasses.replace(
                self._health, errors=self._health.errors + 1, last_error=message
            )

    def fail(self, message: str) -> None:
        self._update(state="failed", last_error=message)

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._health = dataclasses.replace(self._health, **changes)  # type: ignore[arg-type]
