"""``watchkeeper camera ...`` and ``watchkeeper serve`` as a real process: SIGTERM flushes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner, Result

from support.camera_servers import RtspServer, free_port
from support.service_harness import GROUP, enrol_target, make_context, wait_for
from watchkeeper.cli import app
from watchkeeper.demo import CLIP
from watchkeeper.store import alerts as alert_store
from watchkeeper.store import outbox
from watchkeeper.vision import FaceAnalyzer


def watchkeeper(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cameras_are_managed_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()

    def camera(*args: str) -> Result:
        return runner.invoke(app, ["--data-dir", str(tmp_path / "data"), "camera", *args])

    bad = camera("add", "gate", "--uri", "ftp://cam/x")
    assert bad.exit_code == 2 and "unsupported scheme 'ftp'" in bad.output
    added = camera(
        "add", "gate", "--uri", "rtsp://u:pw@cam/x", "--group", "airport", "--roi", "0,0,0.5,1",
        "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["uri"] == "rtsp://u:***@cam/x"
    changed = camera("update", "gate", "--disabled", "--fps", "2")
    assert changed.exit_code == 0, changed.output
    listed = json.loads(camera("list", "--json").stdout)
    assert [(c["name"], c["enabled"], c["analysis_fps"], c["roi"]) for c in listed] == [
        ("gate", False, 2.0, [0.0, 0.0, 0.5, 1.0])
    ]
    assert camera("delete", "gate").exit_code == 0
    assert json.loads(camera("list", "--json").stdout) == []


def test_sigterm_flushes_open_tracks_into_alerts_and_the_outbox_before_exit(
    tmp_path: Path, analyzer: FaceAnalyzer
) -> None:
    data = tmp_path / "data"
    hook = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens: the alert stays owed
    config = tmp_path / "config.yaml"
    config.write_text(
        f"notifications:\n  webhooks:\n    - url: {hook}\n      secret: {'s' * 20}\n",
        encoding="utf-8",
    )
    ctx = make_context(data, analyzer)
    enrol_target(ctx)
    ctx.close()
    rtsp = RtspServer(CLIP).start()
    port = free_port()
    added = watchkeeper(data, "camera", "add", "arcade", "--uri", rtsp.url, "--group", GROUP)
    assert added.returncode == 0, added.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(data), "--config", str(config),
         "serve", "--port", str(port), "--log-json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: frames_analysed(port) >= 2, 60, "the first analysed frames", every=0.1)
        process.send_signal(signal.SIGTERM)  # the passer-by is still in view: their track is open
        started = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        process.kill()
        rtsp.stop()
    assert process.returncode in (0, -signal.SIGTERM), stderr[-2000:]  # uvicorn re-raises it
    assert stopped_in < 20
    logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(entry["message"] == "live service stopped" for entry in logs)
    ctx = make_context(data, analyzer)
    with ctx.db.session() as s:
        alerts = alert_store.list_alerts(s, alert_store.AlertFilter())
        owed = outbox.list_messages(s, pending_only=True)
    ctx.close()
    assert [v.camera for v in alerts] == ["arcade"]
    assert [m.alert_id for m in owed] == [alerts[0].alert.id]


def frames_analysed(port: int) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    for line in text.splitlines():
        if line.startswith('watchkeeper_camera_frames_analysed_total{camera="arcade"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
