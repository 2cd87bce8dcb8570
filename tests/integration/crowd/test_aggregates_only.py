"""Counting keeps numbers only: one row per zone and minute, no image, no box, no track.

The real clip runs through a camera's crowd monitor on a real database and data folder, as
the live service runs it. Afterwards every table is compared with before: only the per-minute
aggregates (and, for the breach the limit provokes, the crowd alert with its audit record)
were added; no file appeared in the data folder; and no track lived longer than the
smoothing window while the clip ran. The same shape of proof as the passers-by test of face
recognition (tests/integration/pipeline/test_clip.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from watchkeeper.config import Settings
from watchkeeper.crowd.alerting import CrowdAlertService
from watchkeeper.crowd.counting import CrowdCounter
from watchkeeper.crowd.detector import SsdPersonDetector, load_person_detector
from watchkeeper.crowd.monitor import CrowdMonitor
from watchkeeper.crowd.tiling import tiled_from_config
from watchkeeper.store import Database
from watchkeeper.store import crowd as crowd_store
from watchkeeper.store.models import Base
from watchkeeper.streams import open_source
from watchkeeper.usecases import cameras as camera_registry
from watchkeeper.usecases import zones as registry

ZONE = {
    "name": "concourse",
    "polygon": [[0, 0.3], [1, 0.3], [1, 1], [0, 1]],
    "area_m2": 60,
    "lines": [{"name": "towards camera", "a": [0, 0.75], "b": [1, 0.75]}],
    "limits": {"max_people": 3, "max_density": 0.05},
}
AGGREGATE_COLUMNS = {
    "id", "zone_id", "camera_id", "minute", "frames", "people_mean", "people_max",
    "density_max", "entered", "left",
}  # fmt: skip


def table_counts(db: Database) -> dict[str, int]:
    with db.session(readonly=True) as s:
        return {
            table.name: int(s.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def detector() -> SsdPersonDetector:
    return load_person_detector(Settings().vision, Settings().crowd)


def test_counting_the_clip_keeps_only_per_minute_aggregates(
    clip: Path, settings: Settings, detector: SsdPersonDetector
) -> None:
    db = Database(settings.database)
    db.migrate()
    camera = camera_registry.add_camera(
        db, "test", {"name": "arcade", "uri": str(clip), "face_recognition": False}
    )
    registry.add_zone(db, "test", "arcade", ZONE)
    before = table_counts(db)
    files_before = files_in(settings.data_dir)
    zones = registry.zones_for_camera(db, camera["id"])
    smoothing = settings.crowd.smoothing_frames
    counter = CrowdCounter(zones, tiled_from_config(detector, settings.crowd), smoothing)
    ages: list[int] = []
    monitor = CrowdMonitor(
        camera["id"], "arcade", counter, db, CrowdAlertService(db, settings.notifications),
        on_readings=lambda _c, _r: ages.extend(t.age for t in counter.tracker.tracks),
    )  # fmt: skip
    source = open_source(str(clip), "arcade", 2.0)
    frames = 0
    for frame in source.frames():
        monitor.observe(frame)
        frames += 1
    monitor.close()
    after = table_counts(db)

    changed = {name for name in after if after[name] != before[name]}
    # the minutes, and the one alert the limits provoke (with its audit record); nothing else
    assert changed == {"crowd_minutes", "crowd_alerts", "audit_events"}
    assert after["crowd_alerts"] - before["crowd_alerts"] == 2  # people and density, once each
    assert after["sightings"] == 0 and after["matches"] == 0
    assert files_in(settings.data_dir) - files_before <= {
        p for p in files_in(settings.data_dir) if p.name.startswith("watchkeeper.db")
    }  # the database itself, nothing else: no image, no crop
    with db.session(readonly=True) as s:
        minutes = crowd_store.minutes_of(s)
    assert 1 <= len(minutes) <= 2  # 4.2 s of clip: one zone, one minute (two if it straddles)
    assert sum(m.frames for m in minutes) == frames >= 8  # 4.2 s at 2 analysed frames/s
    assert all(m.people_max >= 3 for m in minutes)
    assert set(crowd_store.CrowdMinute.__table__.columns.keys()) == AGGREGATE_COLUMNS
    assert ages and max(ages) < smoothing  # no track outlived the smoothing window
    db.close()
