"""What every source is: a named, closable iterator of frames with health figures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from watchkeeper.domain import Frame
from watchkeeper.streams.health import SourceHealth


class SourceError(Exception):
    """A source cannot be opened or read; the message names the source and what happened."""


@runtime_checkable
class Source(Protocol):
    """A camera, file or folder that yields frames sampled at the analysis rate.

    ``frames()`` is read by one thread; ``close()`` and ``health`` may be used from any.
    """

    name: str

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    @property
    def health(self) -> SourceHealth: ...


@runtime_checkable
class KeyFrameSource(Protocol):
    """A source that can decode its key frames alone: what a still camera asks for."""

    def key_frames_only(self, wanted: bool) -> None: ...


@runtime_checkable
class RewindableSource(KeyFrameSource, Protocol):
    """A source read on its key frames that can go back to the one before: a resting camera
    or scan then misses nothing of what changed between two key frames."""

    def rewind(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How to read a source; one value for all kinds so that the registry stays uniform."""

    analysis_fps: float = 5.0
    open_timeout_s: float = 10.0
    read_timeout_s: float | None = None  # None: same as open_timeout_s
    max_image_pixels: int = 50_000_000
    decode_threads: int = 1  # 0: as many as FFmpeg likes
    skip_nonref: bool = False
    max_key_interval_s: float = 2.0  # key frames further apart than this: never key frames only
    rewind_live: bool = False  # a live stream may go back to its key frame before (streams.*)
    rtsp_transport: str = "tcp"

    @property
    def read_timeout(self) -> float:
        return self.open_timeout_s if self.read_timeout_s is None else self.read_timeout_s


_CREDENTIALS = re.compile(r"(?<=://)([^/@:]*)(:[^/@]*)?@")


def redact(uri: str) -> str:
    """The URI without its password, fit for logs and error messages."""
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)}:***@" if m.group(2) else m.group(0), uri)
