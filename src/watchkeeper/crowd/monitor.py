"""One camera's crowd counting in the live service: count, watch limits, keep minutes.

The camera runner hands every analysed frame (the same decoded frame face recognition uses)
to :meth:`CrowdMonitor.observe`. Readings update the live figures (Prometheus, console);
breaches become crowd alerts; completed minutes are the only thing written to the database.
The people found in the latest frame are kept in memory for the console's live view and
replaced at the next frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from watchkeeper.crowd.alerting import CrowdAlertService
from watchkeeper.crowd.counting import CrowdCounter, ZoneReading
from watchkeeper.crowd.limits import LimitWatcher
from watchkeeper.crowd.minutes import MinuteAggregate, MinuteAggregator
from watchkeeper.crowd.tiling import People
from watchkeeper.domain import Frame, ImageArray
from watchkeeper.store import Database
from watchkeeper.store import crowd as crowd_store

log = logging.getLogger(__name__)

ReadingsObserver = Callable[[str, list[ZoneReading]], None]  # camera name, readings


def save_minutes(
    db: Database, camera_id: int, zone_ids: dict[str, int], minutes: list[MinuteAggregate]
) -> None:
    """Store completed minutes (one row per zone and minute)."""
    if not minutes:
        return
    with db.session() as s:
        for minute in minutes:
            crowd_store.add_minute(
                s,
                crowd_store.CrowdMinute(
                    zone_id=zone_ids[minute.zone],
                    camera_id=camera_id,
                    minute=datetime.fromtimestamp(minute.minute, UTC),
                    frames=minute.samples,
                    people_mean=round(minute.people_mean, 3),
                    people_max=minute.people_max,
                    density_max=minute.density_max,
                    entered=minute.entered,
                    left=minute.left,
                ),
            )


class CrowdMonitor:
    """Counting, limits and minutes for one camera; :meth:`observe` runs on its thread."""

    def __init__(
        self,
        camera_id: int,
        camera: str,
        counter: CrowdCounter,
        db: Database,
        alerts: CrowdAlertService | None,
        release: float = 0.8,
        on_readings: ReadingsObserver | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.camera = camera
        self.counter = counter
        self.db = db
        self.alerts = alerts
        self.watcher = LimitWatcher(counter.zones, release)
        self.minutes = MinuteAggregator()
        self.on_readings = on_readings
        self.zone_ids = {z.name: z.zone_id for z in counter.zones if z.zone_id is not None}
        self.latest: list[ZoneReading] = []
        self.latest_people = People.empty()
        self.latest_image: ImageArray | None = None
        self._lock = threading.Lock()

    def observe(self, frame: Frame) -> list[ZoneReading]:
        readings, people = self.counter.count(frame.image, frame.timestamp)
        with self._lock:
            self.latest, self.latest_people, self.latest_image = readings, people, frame.image
        if self.on_readings is not None:
            self.on_readings(self.camera, readings)
        breaches, releases = self.watcher.check(readings)
        if self.alerts is not None:
            for breach in breaches:
                self.alerts.raise_breach(self.camera_id, self.zone_ids[breach.zone], breach)
            for release in releases:
                self.alerts.release(self.zone_ids[release.zone], release)
        save_minutes(self.db, self.camera_id, self.zone_ids, self.minutes.add(readings))
        return readings

    def close(self) -> None:
        """Store the minutes still open (a camera stopping keeps its partial minute)."""
        save_minutes(self.db, self.camera_id, self.zone_ids, self.minutes.flush())

    def live(self) -> tuple[list[ZoneReading], People, ImageArray | None]:
        """The latest readings, people and the frame they came from (memory only)."""
        with self._lock:
            return list(self.latest), self.latest_people, self.latest_image
