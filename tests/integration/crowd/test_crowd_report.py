"""The transparency report counts crowd counting per camera group: hours and crowd alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watchkeeper.config import Settings
from watchkeeper.crowd.alerting import CrowdAlertService
from watchkeeper.crowd.limits import Breach
from watchkeeper.crowd.minutes import MinuteAggregate
from watchkeeper.crowd.monitor import save_minutes
from watchkeeper.policy.report import build_report
from watchkeeper.policy.report_html import render_html
from watchkeeper.store import Database
from watchkeeper.usecases import cameras
from watchkeeper.usecases import zones as registry

ZONE = {"name": "hall", "polygon": [[0, 0], [1, 0], [1, 1]], "limits": {"max_people": 10}}
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_hours_counted_and_crowd_alerts_per_camera_group(settings: Settings) -> None:
    db = Database(settings.database)
    db.migrate()
    for name, group in (("north", "station"), ("south", "station"), ("gate", "stadium")):
        cameras.add_camera(db, "test", {"name": name, "uri": "/dev/null", "group": group})
    zones = {name: registry.add_zone(db, "test", name, ZONE)["id"] for name in ("north", "gate")}
    # north counted for 90 minutes, gate for 30; south has no zone and counts nothing
    for name, minutes in (("north", 90), ("gate", 30)):
        camera_id = registry.list_zones(db, name)[0]["camera_id"]
        rows = [
            MinuteAggregate("hall", (START + timedelta(minutes=m)).timestamp(), 10, 50.0, 6.0)
            for m in range(minutes)
        ]
        save_minutes(db, camera_id, {"hall": zones[name]}, rows)
    alerts = CrowdAlertService(db, settings.notifications)
    gate_id = registry.list_zones(db, "gate")[0]["camera_id"]
    for minute in (5, 20):
        at = (START + timedelta(minutes=minute)).timestamp()
        alerts.raise_breach(gate_id, zones["gate"], Breach("hall", "people", 12.0, 10.0, at))
    with db.session(readonly=True) as s:
        report = build_report(s, START, START + timedelta(days=1))
    assert report["crowd_counting"] == {
        "stadium": {"hours_counted": 0.5, "crowd_alerts": 2},
        "station": {"hours_counted": 1.5, "crowd_alerts": 0},
    }
    page = render_html(report)
    assert "Crowd counting" in page and "stadium" in page
    db.close()
