"""Counts of what the cameras did, per camera and hour: the transparency report's raw numbers.

Frames and faces analysed, sightings made and matches blocked by policy are counted here in
memory and added to ``activity_counts`` in one short transaction now and then (every
``flush_every_s``, and on :meth:`ActivityCounters.flush`), so a busy camera costs no database
write per frame. Only numbers are kept: nothing about a face, so counting a passer-by leaves
no trace of them.

Wiring (one object per process, shared by every camera)::

    counters = ActivityCounters(db)
    recogniser = Recogniser(db, ..., counters=counters)    # sightings, blocked matches
    worker = CameraWorker(source, pipeline, recogniser.match, sink,
                          on_frame=counters.frame_hook(pipeline))  # frames, faces
    ...
    counters.flush()                                        # when the camera stops
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from watchkeeper.domain import Frame
from watchkeeper.store import Database, StoreError
from watchkeeper.store import policy as policy_store

if TYPE_CHECKING:
    from watchkeeper.pipeline import CameraPipeline

log = logging.getLogger(__name__)


def hour_of(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC).replace(minute=0, second=0, microsecond=0)


class ActivityCounters:
    """Thread-safe counters, flushed to the store by whichever caller finds them due."""

    def __init__(self, db: Database, flush_every_s: float = 60.0) -> None:
        self.db = db
        self.flush_every_s = flush_every_s
        self._pending: dict[tuple[datetime, str], Counter[str]] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def add(self, camera: str, timestamp: float, **deltas: int) -> None:
        """Add counts (names of ``store.policy.COUNTED``) to the hour of ``timestamp``."""
        unknown = set(deltas) - set(policy_store.COUNTED)
        if unknown:
            raise ValueError(f"unknown activity counters: {', '.join(sorted(unknown))}")
        with self._lock:
            self._pending.setdefault((hour_of(timestamp), camera), Counter()).update(deltas)
            due = time.monotonic() - self._flushed >= self.flush_every_s
        if due:
            with contextlib.suppress(StoreError):  # logged by flush; a camera never stops for it
                self.flush()

    def frame_hook(
        self, pipeline: CameraPipeline, then: Callable[[Frame], None] | None = None
    ) -> Callable[[Frame], None]:
        """A ``CameraWorker`` ``on_frame`` callback counting the frame and its faces."""
        seen = [pipeline.stats.faces]

        def on_frame(frame: Frame) -> None:
            faces, seen[0] = pipeline.stats.faces - seen[0], pipeline.stats.faces
            self.add(frame.camera, frame.timestamp, frames=1, faces=faces)
            if then is not None:
                then(frame)

        return on_frame

    def flush(self) -> None:
        """Write the pending counts; on failure they stay pending for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed = time.monotonic()
        if not pending:
            return
        try:
            with self.db.session() as s:
                for (hour, camera), deltas in pending.items():
                    policy_store.add_counts(s, hour, camera, {k: v for k, v in deltas.items() if v})
        except StoreError:
            with self._lock:
                for key, deltas in pending.items():
                    self._pending.setdefault(key, Counter()).update(deltas)
            log.exception("activity counts could not be written; they will be retried")
            raise
