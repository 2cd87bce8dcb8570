"""Recordings on disk: which files to scan, which camera recorded them, and when they began.

A search is lawful only inside its case's time window and camera scope, so a recording whose
camera or start time cannot be established is not scanned. Both come, in this order, from:

1. the file name, by ``investigations.file_name_pattern`` — by default
   ``<camera>_YYYYmmdd-HHMMSS.<ext>`` (e.g. ``gate-1_20251128-143000.mp4``), the start time in
   ``investigations.file_name_timezone`` (UTC unless set), as most recorders name files;
2. the container's ``creation_time`` (start time only);
3. what the operator states for the whole scan (``--camera``, ``--start``).

A folder is searched recursively for files with a video extension; anything else in it is
reported as skipped, and so is a path that does not exist.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import av

from watchkeeper.config import InvestigationsConfig
from watchkeeper.investigations.errors import InvestigationError

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mkv", ".mov", ".avi", ".ts", ".mts", ".webm", ".flv", ".mpg", ".mpeg",
     ".3gp", ".wmv", ".h264", ".h265", ".hevc"}
)  # fmt: skip
HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path that is not scanned, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What a scan must know of a recording before it reads a frame."""

    path: Path
    size: int
    camera: str
    started_at: datetime
    time_source: str  # "file name", "container" or "stated"
    fps: float
    frames: int  # as declared (estimated from the duration when the container has no count)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


def discover(sources: Sequence[Path]) -> tuple[list[Path], list[Skipped]]:
    """The video files named by ``sources`` (files, or folders searched recursively)."""
    found: dict[Path, None] = {}
    skipped: list[Skipped] = []
    for source in sources:
        if not source.exists():
            skipped.append(Skipped(str(source), "no such file or folder"))
        elif source.is_dir():
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                if path.suffix.lower() in VIDEO_EXTENSIONS:
                    found.setdefault(path.absolute(), None)
                else:
                    skipped.append(Skipped(str(path), "not a video recording (file type)"))
        else:
            found.setdefault(source.absolute(), None)  # named explicitly: FFmpeg decides
    return list(found), skipped


class Naming:
    """Reads camera and start time from file names (see the module docstring)."""

    def __init__(self, config: InvestigationsConfig) -> None:
        try:
            self.pattern = re.compile(config.file_name_pattern)
        except re.error as exc:
            raise InvestigationError(
                f"investigations.file_name_pattern is not a regular expression: {exc}"
            ) from exc
        try:
            self.zone = ZoneInfo(config.file_name_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvestigationError(
                f"investigations.file_name_timezone {config.file_name_timezone!r} is not a "
                "time zone name such as UTC or Europe/Berlin"
            ) from exc
        self.time_format = config.file_name_time_format

    def parse(self, path: Path) -> tuple[str | None, datetime | None]:
        found = self.pattern.match(path.stem)
        if found is None:
            return None, None
        groups = found.groupdict()
        camera = (groups.get("camera") or "").strip() or None
        start = None
        if groups.get("start"):
            try:
                start = datetime.strptime(groups["start"], self.time_format)
            except ValueError:
                return camera, None
            start = start.replace(tzinfo=self.zone).astimezone(UTC)
        return camera, start


def inspect(
    path: Path, naming: Naming, camera: str | None = None, start: datetime | None = None
) -> RecordingInfo:
    """Open the container (no decoding) and establish camera, start, frame rate and length.

    Raises ``InvestigationError`` for a file that is not a readable video or whose camera or
    start time is unknown.
    """
    named_camera, named_start = naming.parse(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise InvestigationError(f"{path}: the file is empty (0 bytes)")
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvestigationError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            duration = (container.duration or 0) / av.time_base
            frames = int(stream.frames or round(duration * fps))
            created = container.metadata.get("creation_time") or stream.metadata.get(
                "creation_time"
            )
    except (av.FFmpegError, OSError) as exc:
        raise InvestigationError(f"{path}: is not a video that can be read ({exc})") from exc
    if fps <= 0 or frames <= 0:
        raise InvestigationError(f"{path}: declares no frame rate or length; is it truncated?")
    started, source = named_start, "file name"
    if started is None and created:
        try:
            started = datetime.fromisoformat(created.replace("Z", "+00:00"))
            started = started if started.tzinfo else started.replace(tzinfo=UTC)
            source = "container"
        except ValueError:
            started = None
    if started is None and start is not None:
        started, source = start, "stated"
    if started is None:
        raise InvestigationError(
            f"{path}: its start time is unknown (no time in the file name or the container); "
            "name it like <camera>_YYYYmmdd-HHMMSS.mp4 or state it with --start"
        )
    name = named_camera or camera
    if not name:
        raise InvestigationError(
            f"{path}: its camera is unknown; name it like <camera>_YYYYmmdd-HHMMSS.mp4 or "
            "state it with --camera"
        )
    return RecordingInfo(path, size, name, started.astimezone(UTC), source, fps, frames)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
