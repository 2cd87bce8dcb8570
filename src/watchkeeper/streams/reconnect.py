"""Keep a live camera coming back: reopen it after a drop, waiting longer after each failure.

Cameras reboot, networks flap, and a city's worth of cameras coming back at once must not all
knock on the same server in the same second: the wait before attempt *n* is drawn uniformly
between 0 and ``min(cap, base · 2ⁿ⁻¹)`` ("full jitter"), and resets once frames flow again.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
from collections.abc import Callable, Iterator

from watchkeeper.domain import Frame
from watchkeeper.streams.base import KeyFrameSource, RewindableSource, Source, SourceError
from watchkeeper.streams.health import HealthRecorder, SourceHealth

log = logging.getLogger(__name__)


def backoff_delay(failures: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` consecutive failures (1 or more), full jitter."""
    ceiling = min(cap_s, base_s * 2.0 ** min(failures - 1, 62))
    return rng.uniform(0.0, ceiling)


class ReconnectingSource:
    """A live source that is opened again whenever it cannot be opened or stops delivering.

    ``opener`` opens the underlying source (and raises :class:`SourceError` when it cannot);
    ``max_attempts`` consecutive failures (None: never give up) turn the state to "failed"
    and raise the last error. ``close()`` from any thread ends the back-off wait at once.

    Example::

        source = ReconnectingSource(lambda: open_source(uri, "gate-1", 5.0), "gate-1")
        for frame in source.frames(): ...
    """

    def __init__(
        self,
        opener: Callable[[], Source],
        name: str,
        *,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        max_attempts: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.opener = opener
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_attempts = max_attempts
        self._rng = rng or random.Random()
        self._recorder = HealthRecorder(state="connecting")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: Source | None = None
        self._frames_in_closed = 0
        self._index_base = 0  # first index of the current connection's frames
        self._next_index = 0
        self._errors_closed = 0

    @property
    def health(self) -> SourceHealth:
        own = self._recorder.snapshot()
        current = self._current
        inner = current.health if current is not None else None
        frames_in = self._frames_in_closed + (inner.frames_in if inner else 0)
        return SourceHealth(
            state=own.state,
            frames_in=frames_in,
            frames_out=own.frames_out,
            errors=own.errors + self._errors_closed + (inner.errors if inner else 0),
            attempts=own.attempts,
            last_error=own.last_error,
            last_frame_at=own.last_frame_at,
            fps_in=inner.fps_in if inner else 0.0,
            fps_out=own.fps_out,
            lag_s=own.lag_s,
            key_frames_only=inner.key_frames_only if inner else False,
        )

    def key_frames_only(self, wanted: bool) -> None:
        """Passed to the current connection; a new one starts decoding every frame."""
        current = self._current
        if isinstance(current, KeyFrameSource):
            current.key_frames_only(wanted)

    def rewind(self) -> bool:
        """Passed to the current connection (a new one has nothing to go back to)."""
        current = self._current
        return isinstance(current, RewindableSource) and current.rewind()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._current is not None:
                self._current.close()
        if self._recorder.snapshot().state != "failed":
            self._recorder.set_state("stopped")

    def frames(self) -> Iterator[Frame]:
        failures = 0
        try:
            while not self._stop.is_set():
                delivered = False
                try:
                    for frame in self._session():
                        delivered = True
                        failures = 0
                        yield frame
                except SourceError as exc:
                    self._recorder.error(str(exc))
                    log.warning("camera %s: %s", self.name, exc)
                    if not delivered:
                        failures += 1
                if self._stop.is_set():
                    return
                if self.max_attempts is not None and failures >= self.max_attempts:
                    self._recorder.set_state("failed")
                    raise SourceError(
                        f"{self.name}: gave up after {failures} failed attempts "
                        f"(last: {self._recorder.snapshot().last_error})"
                    )
                self._recorder.set_state("reconnecting")
                delay = backoff_delay(
                    max(failures, 1), self.backoff_base_s, self.backoff_cap_s, self._rng
                )
                if self._stop.wait(delay):
                    return
        finally:
            if self._recorder.snapshot().state != "failed":
                self._recorder.set_state("stopped")

    def _session(self) -> Iterator[Frame]:
        """One connection: open, read until it fails, close.

        Frame indices go on from where the previous connection stopped (each connection
        counts from 0): downstream, a track must never see the same index twice.
        """
        self._recorder.attempt()
        self._index_base = self._next_index
        source = self.opener()
        with self._lock:
            self._current = source
        if self._stop.is_set():
            source.close()
        try:
            self._recorder.set_state("connected")
            for frame in source.frames():
                if self._stop.is_set():
                    return
                self._recorder.frame_out(frame.timestamp, live=True)
                frame = dataclasses.replace(frame, index=self._index_base + frame.index)
                self._next_index = frame.index + 1
                yield frame
            if not self._stop.is_set():
                raise SourceError(f"{source.name}: the stream ended")
        finally:
            with self._lock:
                self._current = None
                inner = source.health
                self._frames_in_closed += inner.frames_in
                self._errors_closed += inner.errors
            source.close()
