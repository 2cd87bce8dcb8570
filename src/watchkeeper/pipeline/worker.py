"""A camera worker: one source, one pipeline, one matcher, one sink — and nothing global.

It is a plain object with explicit inputs and ``start()``/``stop()`` so that the same class
runs in a thread here, and as a remote actor when the pipeline is scaled out (DESIGN.md,
"Scale-out"). Everything it hands to the sink is a picklable domain value.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from watchkeeper.domain import Frame, Match, Sighting
from watchkeeper.pipeline.camera import CameraPipeline
from watchkeeper.streams import KeyFrameSource, RewindableSource, Source

log = logging.getLogger(__name__)

Matcher = Callable[[Sighting], list[Match]]
SightingSink = Callable[[Sighting, list[Match]], None]


class CameraWorker:
    """Reads frames, turns them into sightings, matches each and hands it to the sink.

    The sink sees every sighting with its matches (often none). What it may keep is the
    caller's policy; :func:`watchkeeper.recognition.record_matches` keeps matched ones only.
    """

    def __init__(
        self,
        source: Source,
        pipeline: CameraPipeline,
        match: Matcher,
        sink: SightingSink,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.match = match
        self.sink = sink
        self.on_frame = on_frame
        self.matched = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def camera(self) -> str:
        return self.pipeline.camera

    def run(self) -> None:
        """Process the source until it ends or :meth:`stop` is called (in this thread)."""
        resting_source = self.source if isinstance(self.source, KeyFrameSource) else None
        rewindable = self.source if isinstance(self.source, RewindableSource) else None
        try:
            for frame in self.source.frames():
                if rewindable and self.pipeline.woken_by(frame.image) and rewindable.rewind():
                    continue  # the frames since the key frame before come first
                # whoever is still in view first: their alerts must not wait for the work
                # of closing the tracks of those who left
                self._emit(self.pipeline.advance(frame))
                self._emit(self.pipeline.close_ended())
                if self.on_frame is not None:
                    self.on_frame(frame)
                if resting_source is not None:
                    resting_source.key_frames_only(self.pipeline.resting)
                if self._stop.is_set():
                    break
        finally:
            self._emit(self.pipeline.finish())
            self.source.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._guarded_run, name=f"camera-{self.camera}")
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        self.source.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _guarded_run(self) -> None:
        try:
            self.run()
        except Exception as exc:  # a broken camera must not take the others down
            self.error = exc
            log.error("camera %s stopped: %s", self.camera, exc)

    def _emit(self, sightings: list[Sighting]) -> None:
        for sighting in sightings:
            matches = self.match(sighting)
            self.matched += bool(matches)
            self.sink(sighting, matches)
