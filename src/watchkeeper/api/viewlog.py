"""When a live camera frame was last shown to whom: one audit record per viewer, camera and
window, not one per frame.

The console's camera wall reloads every camera's snapshot every few seconds; an audit
record per reload would bury the log (16 cameras, one viewer: tens of thousands an hour)
and hide the views that matter. So the first snapshot a viewer sees of a camera is audited
(``camera.snapshot.view``, saying how long it covers) and later ones within ``window_s``
are covered by it. Kept in memory: after a restart the next view is audited again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fastapi import Request

from watchkeeper.policy import audit
from watchkeeper.store import Database

SNAPSHOT_WINDOW_S = 600.0


class ViewWindow:
    """Answers "is this the first view of ``camera`` by ``viewer`` in the window?"."""

    MAX_ENTRIES = 100_000

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._audited: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def first_in_window(self, viewer: str, camera_id: int) -> bool:
        """True (and the window starts now) when the last audited view is older than it."""
        now = self._clock()
        with self._lock:
            last = self._audited.get((viewer, camera_id))
            if last is not None and now - last < self.window_s:
                return False
            if len(self._audited) >= self.MAX_ENTRIES:
                self._audited = {k: t for k, t in self._audited.items() if now - t < self.window_s}
            self._audited[(viewer, camera_id)] = now
            return True


def audit_snapshot_view(
    request: Request, db: Database, viewer: str, camera_id: int, name: str, **details: str
) -> None:
    """Audit a live frame shown to ``viewer`` unless a record already covers this window.

    Every kind of live frame (the plain snapshot, the crowd view with faces blurred) shares
    the app's one window, so a camera wall showing both is audited once per window.
    """
    views: ViewWindow = request.app.state.snapshot_views
    if views.first_in_window(viewer, camera_id):
        with db.session() as s:
            audit.record(
                s, viewer, "camera.snapshot.view", "camera", camera_id,
                details={"name": name, "covers_s": views.window_s, **details},
            )  # fmt: skip
