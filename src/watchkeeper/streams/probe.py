"""Checking a camera URI before it is saved, and trying it briefly (the console's "live test").

:func:`check_uri` refuses what can never work (an unknown scheme, a URL without a host, a
port that is not a number, a file that does not exist) with the reason, at once and without
touching the network. :func:`probe` opens the source for a few seconds and says whether
frames come; the frames themselves are dropped.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from watchkeeper.streams import SourceError, open_source, resolve
from watchkeeper.streams.base import redact

MAX_URI_LENGTH = 2000
_DEVICE = re.compile(r"/dev/video\d{1,3}")


def check_reachable_by_remote(uri: str, file_roots: Sequence[Path]) -> None:
    """ValueError unless a remote user may point a camera at ``uri``.

    Network streams and ``/dev/videoN`` devices are fine. A file or folder must lie, after
    symbolic links are followed, under one of ``file_roots``; otherwise a camera (and its
    snapshot) would read any file the server can. Outside the roots the answer is the same
    whether the path exists or not, so it cannot be used to probe the server's files.
    """
    try:
        kind, target = resolve(uri.strip())
    except SourceError as exc:
        raise ValueError(str(exc)) from None
    if kind == "stream":
        return
    if kind == "device" and _DEVICE.fullmatch(target):
        return
    real = Path(os.path.realpath(unquote(target)))
    for root in file_roots:
        if real.is_relative_to(os.path.realpath(root)):
            return
    where = ", ".join(str(r) for r in file_roots) or "none are configured"
    raise ValueError(
        "file and folder sources must lie under api.camera_file_roots "
        f"({where}); network streams and /dev/videoN devices need no root"
    )


def check_uri(uri: str) -> str:
    """The URI, stripped, or ValueError with what is wrong with it."""
    uri = uri.strip()
    if not uri:
        raise ValueError("the URI is empty")
    if len(uri) > MAX_URI_LENGTH:
        raise ValueError(f"the URI is longer than {MAX_URI_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in uri):
        raise ValueError("the URI contains spaces or control characters (percent-encode them)")
    try:
        kind, target = resolve(uri)
    except SourceError as exc:
        raise ValueError(str(exc)) from None
    if kind == "stream":
        parts = urlsplit(uri)
        if not parts.hostname:
            raise ValueError(f"{redact(uri)}: the URL has no host")
        try:
            parts.port  # noqa: B018  (parsing it is the check)
        except ValueError:
            raise ValueError(f"{redact(uri)}: the port is not a number from 0 to 65535") from None
        return uri
    path = Path(unquote(target))
    if not path.exists():
        raise ValueError(f"{path}: no such file, folder or device on the server")
    return uri


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    frames: int
    seconds: float
    width: int | None = None
    height: int | None = None
    fps_in: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(uri: str, seconds: float = 3.0, want_frames: int = 3) -> ProbeResult:
    """Open ``uri`` and read until ``want_frames`` frames came or ``seconds`` passed."""
    started = time.monotonic()
    frames, width, height = 0, None, None
    try:
        source = open_source(
            uri, "probe", analysis_fps=25.0, open_timeout_s=seconds, read_timeout_s=seconds
        )
    except SourceError as exc:
        return ProbeResult(False, 0, round(time.monotonic() - started, 3), error=str(exc))
    error = None
    try:
        for frame in source.frames():
            frames += 1
            height, width = frame.image.shape[:2]
            if frames >= want_frames or time.monotonic() - started > seconds:
                break
    except SourceError as exc:
        error = str(exc)
    finally:
        health = source.health
        source.close()
    return ProbeResult(
        ok=frames > 0,
        frames=frames,
        seconds=round(time.monotonic() - started, 3),
        width=width,
        height=height,
        fps_in=round(health.fps_in, 2) if health.fps_in else None,
        error=redact(error) if error and frames == 0 else None,
    )
