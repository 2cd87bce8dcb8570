"""Templates of evaluation images, each computed once, and the failures to enrol counted.

An evaluation compares the same photo many times (a photo of a pair list appears in dozens of
pairs), so templates are cached by file path. A photo that cannot be read or in which no face
is found (or whose face is below ``min_quality``) has no template: it is a *failure to enrol*
(FTE) and is reported, never silently dropped. The largest face of a photo is taken, as at
enrolment.

Probe templates can also come from a video: every face of quality ≥ ``min_quality`` in every
``every``-th frame, the passers-by a live camera would search.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from watchkeeper.config import StreamConfig
from watchkeeper.domain import FloatArray
from watchkeeper.evaluation.datasets import DatasetError
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import ImageError, read_image

log = logging.getLogger(__name__)

Progress = Callable[[int], None]

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".avi", ".mov", ".webm", ".ts", ".m4v"})


@dataclass(slots=True)
class Probes:
    """Probe templates and where each came from (a file path, or ``clip.mp4#f12.3``)."""

    vectors: FloatArray  # (K, D)
    sources: list[str] = field(default_factory=list)
    paths: list[Path | None] = field(default_factory=list)  # the image file, None for video
    failures: dict[str, str] = field(default_factory=dict)  # sources that gave no probe

    def __len__(self) -> int:
        return len(self.sources)

    def __add__(self, other: Probes) -> Probes:
        failures = self.failures | other.failures
        filled = [p.vectors for p in (self, other) if len(p)]
        if not filled:
            return Probes.empty(failures)
        return Probes(
            np.concatenate(filled), self.sources + other.sources, self.paths + other.paths, failures
        )

    @classmethod
    def empty(cls, failures: dict[str, str] | None = None) -> Probes:
        return cls(np.zeros((0, 0), np.float32), failures=failures or {})


class TemplateStore:
    """One template per image path, made once by a :class:`FaceAnalyzer`; failures recorded."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        min_quality: float = 0.0,
        max_pixels: int = StreamConfig().max_image_pixels,
    ) -> None:
        self.analyzer = analyzer
        self.min_quality = min_quality
        self.max_pixels = max_pixels
        self._templates: dict[Path, FloatArray | None] = {}
        self.failures: dict[Path, str] = {}  # path → why it has no template

    @property
    def model(self) -> str:
        """Detector and recogniser together: both change the numbers, so a report names both."""
        return f"{self.analyzer.detector.name} + {self.analyzer.model}"

    def template(self, path: Path) -> FloatArray | None:
        """The template of the largest face in ``path``, or None (the reason in ``failures``)."""
        key = path.resolve()
        if key not in self._templates:
            self._templates[key] = self._make(path, key)
        return self._templates[key]

    def _make(self, path: Path, key: Path) -> FloatArray | None:
        try:
            image = read_image(path, self.max_pixels)
        except ImageError as exc:
            return self._fail(key, f"unreadable: {exc}")
        found = self.analyzer.analyse(image)
        if len(found.faces) == 0:
            return self._fail(key, "no face found")
        i = found.faces.largest()
        quality = float(found.faces.quality[i])
        if quality < self.min_quality:
            return self._fail(key, f"face quality {quality:.2f} < {self.min_quality}")
        return self.analyzer.embed(found.aligned[i : i + 1])[0]

    def _fail(self, key: Path, reason: str) -> FloatArray | None:
        """Record why ``key`` has no template; returns the None that stands for it."""
        log.info("failure to enrol %s: %s", key, reason)
        self.failures[key] = reason
        return None

    def matrix(
        self, paths: list[Path], on_progress: Progress | None = None
    ) -> tuple[FloatArray, np.ndarray]:
        """Templates of ``paths`` as rows (zeros where none) and the mask of those that exist."""
        vectors: list[FloatArray | None] = []
        for path in paths:
            vectors.append(self.template(path))
            if on_progress is not None:
                on_progress(1)
        ok = np.array([v is not None for v in vectors], np.bool_)
        if not ok.any():
            raise DatasetError(
                f"no face found in any of {len(paths)} images (first: {paths[0] if paths else '-'})"
            )
        dim = next(v for v in vectors if v is not None).shape[0]
        rows = [v if v is not None else np.zeros(dim, np.float32) for v in vectors]
        return np.stack(rows).astype(np.float32), ok

    def failed(self, paths: Iterable[Path]) -> dict[str, str]:
        """The failures to enrol among ``paths``, as {path: reason}."""
        return {str(p): self.failures[p.resolve()] for p in paths if p.resolve() in self.failures}

    def probes(self, paths: list[Path], on_progress: Progress | None = None) -> Probes:
        """Probe templates of image files; those without a face are skipped (and recorded)."""
        kept = []
        for path in paths:
            vector = self.template(path)
            if vector is not None:
                kept.append((path, vector))
            if on_progress is not None:
                on_progress(1)
        failures = self.failed(paths)
        if not kept:
            return Probes.empty(failures)
        return Probes(
            np.stack([v for _, v in kept]).astype(np.float32),
            [str(p) for p, _ in kept],
            [p for p, _ in kept],
            failures,
        )

    def video_probes(
        self,
        path: Path,
        every: int = 1,
        min_quality: float = 0.3,
        on_progress: Progress | None = None,
    ) -> Probes:
        """Every face of quality ≥ ``min_quality`` in every ``every``-th frame of a video."""
        vectors: list[FloatArray] = []
        sources: list[str] = []
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                for number, frame in enumerate(container.decode(stream)):
                    if on_progress is not None:
                        on_progress(1)
                    if number % every:
                        continue
                    found = self.analyzer.analyse(
                        np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
                    )
                    keep = np.flatnonzero(found.faces.quality >= min_quality)
                    if keep.size:
                        vectors.append(self.analyzer.embed(found.aligned[keep]))
                        sources += [f"{path}#frame{number}/face{k}" for k in keep]
        except (av.FFmpegError, OSError) as exc:
            raise DatasetError(f"cannot decode video {path}: {exc}") from exc
        if not vectors:
            return Probes.empty()
        return Probes(np.concatenate(vectors), sources, [None] * len(sources))


def video_frame_count(path: Path) -> int:
    """Frames the container declares (0 if unknown): the length of a progress bar."""
    try:
        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames or 0)
    except (av.FFmpegError, OSError, IndexError):
        return 0


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES
