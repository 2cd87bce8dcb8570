"""A folder of still images as a source: photos from a handheld camera, a dump of stills.

Every image is analysed, in name order: the photos of a folder are a set, not a video, so
the analysis rate does not thin them out. A file that is not a decodable image is skipped
with a warning and counted in ``health.errors``; one bad file never stops the folder.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from watchkeeper.domain import Frame
from watchkeeper.streams.base import SourceError, SourceOptions
from watchkeeper.streams.health import HealthRecorder, SourceHealth
from watchkeeper.vision.imageio import ImageError, read_image

log = logging.getLogger(__name__)


class ImageFolderSource:
    """The images of one folder (not its sub-folders); ``Frame.index`` is the file's position
    in the sorted listing and ``Frame.timestamp`` its modification time."""

    kind = "images"
    live = False

    def __init__(self, target: str, camera: str, options: SourceOptions) -> None:
        self.folder = Path(target)
        self.name = camera
        self.options = options
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder}: no such folder")
        self.files = sorted(
            p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")
        )
        if not self.files:
            raise SourceError(f"{self.folder}: the folder holds no files")
        self._recorder = HealthRecorder(state="connected")
        self._stop = threading.Event()

    @property
    def health(self) -> SourceHealth:
        return self._recorder.snapshot()

    def close(self) -> None:
        self._stop.set()
        self._recorder.set_state("stopped")

    def frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            if self._stop.is_set():
                return
            self._recorder.frame_in()
            try:
                image = read_image(path, self.options.max_image_pixels)
                timestamp = path.stat().st_mtime
            except (ImageError, OSError) as exc:
                log.warning("skipped: %s", exc)
                self._recorder.error(str(exc))
                continue
            self._recorder.frame_out(timestamp, live=False)
            yield Frame(self.name, index, timestamp, image)
        self._recorder.set_state("stopped")
