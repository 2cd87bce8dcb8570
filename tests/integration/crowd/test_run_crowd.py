"""``watchkeeper run SOURCE --crowd``: people per zone over time, as JSON, storing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ZONES = [
    {"name": "left", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]], "area_m2": 30},
    {"name": "right", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]},
]


def watchkeeper(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip


def test_the_series_counts_each_zone_per_frame_and_per_minute(tmp_path: Path, clip: Path) -> None:
    zones = tmp_path / "zones.json"
    zones.write_text(json.dumps(ZONES))
    done = watchkeeper(tmp_path, "run", str(clip), "--crowd", "--zones", str(zones), "--fps", "1",
                       "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["frames_analysed"] == len(result["series"]) >= 4  # 4.2 s at 1 frame/s
    for point in result["series"]:
        left, right = point["zones"]["left"], point["zones"]["right"]
        assert left["people"] + right["people"] >= 6  # the clip shows 10–14 people
        assert left["density"] is not None and right["density"] is None
    assert {m["zone"] for m in result["minutes"]} == {"left", "right"}
    data = tmp_path / "data"
    assert not (data / "media").exists() or not any((data / "media").rglob("*.*"))


def test_an_unreadable_zones_file_is_one_error_line(tmp_path: Path, clip: Path) -> None:
    zones = tmp_path / "zones.json"
    zones.write_text("{not json")
    done = watchkeeper(tmp_path, "run", str(clip), "--crowd", "--zones", str(zones))
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read zones from")
    assert "Traceback" not in done.stderr
