"""The command line: refusals are one line and exit status 2; thresholds learn from reviews."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from case_kit import CLIP_START, recording

from watchkeeper.policy import accounts
from watchkeeper.store import Database, models, repository
from watchkeeper.store.alerts import Alert


def watchkeeper(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_case_commands_refuse_with_one_line_what_the_rules_forbid(tmp_path):
    data = tmp_path / "data"
    window = ["--from", (CLIP_START - timedelta(hours=1)).isoformat(),
              "--to", (CLIP_START + timedelta(hours=1)).isoformat()]  # fmt: skip
    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    opened = watchkeeper(
        data, "case", "open", "MP-9", "--purpose", "missing_person", "--legal-basis", "report 9",
        *window, "--expires", expires, "--camera", "arcade", "--json",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["state"] == "pending"

    video = recording(tmp_path / "rec")
    unapproved = watchkeeper(data, "investigate", "scan", "MP-9", str(video))
    assert unapproved.returncode == 2
    assert unapproved.stderr.strip().startswith("error: case MP-9 is not approved yet")

    me = getpass.getuser()
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    with db.session() as s:
        accounts.create_user(s, "test", me, "correct horse battery staple", "supervisor")
    own = watchkeeper(data, "case", "approve", "MP-9")
    assert own.returncode == 2 and f"{me} requested case MP-9 and cannot approve" in own.stderr
    unknown = watchkeeper(data, "investigate", "scan", "MP-404", str(video))
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "error: case MP-404 does not exist")
    probe = watchkeeper(data, "investigate", "probe", "MP-9", str(tmp_path / "missing.jpg"))
    assert probe.returncode == 2 and "missing.jpg: no such file" in probe.stderr
    db.close()


def test_thresholds_suggest_reads_reviewed_alerts_per_watchlist(tmp_path):
    data = tmp_path / "data"
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    db.migrate()
    now = datetime.now(UTC)
    with db.session() as s:
        wl = repository.create_watchlist(
            s, "wanted", "wanted_person", "order", "unit", threshold=0.4
        )
        person = repository.add_person(s, wl, "P", None, None, "test")
        camera = repository.get_or_create_camera(s, "gate", "rtsp://gate")
        reviewed = [(0.41, "rejected"), (0.43, "rejected"), (0.52, "rejected"), (0.45, "confirmed"),
                    (0.5, "confirmed"), (0.6, "confirmed"), (0.7, "confirmed"), (0.62, "confirmed"),
                    (0.8, "confirmed"), (0.9, "confirmed"), (0.95, "new")]  # fmt: skip
        for track, (score, state) in enumerate(reviewed):
            sighting = models.Sighting(
                camera_id=camera.id, track_id=track, started_at=now, ended_at=now,
                first_frame=0, last_frame=1, detections=2, best_frame=1, crop_sha256=None,
                quality=0.9, model="m",
            )  # fmt: skip
            s.add(sighting)
            s.flush()
            s.add(
                Alert(
                    camera_id=camera.id,
                    person_id=person.id,
                    watchlist_id=wl.id,
                    sighting_id=sighting.id,
                    score=score,
                    threshold=0.4,
                    state=state,
                    confirmations_required=1,
                    first_seen=now,
                    last_seen=now,
                )
            )
    db.close()
    result = watchkeeper(data, "thresholds", "suggest", "--target", "0.15", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row == {
        "group": "wanted", "threshold": 0.4, "reviewed": 10, "rejected": 3, "false_rate": 0.3,
        "suggested": 0.4301, "suggested_false_rate": 0.125, "miss_rate": 0.0,
    }  # fmt: skip
    table = watchkeeper(data, "thresholds", "suggest", "--target", "0.15")
    assert "wanted" in table.stdout and "30.0%" in table.stdout
