"""The pipeline on a real Ray cluster of three nodes, with the real PostgreSQL.

A head node and two camera nodes (each its own ``ray start`` process group, each offering
``camera_node`` and ``inference_node``), six cameras (four copies of the 1080p clip, an
RTSP stream of it, an MJPEG camera), the passer-by of the clip enrolled, and a webhook
receiver. The tests run in order on one deployment: first a camera node is killed with
SIGKILL, then PostgreSQL "stops" for 30 s (see cluster_world.PausableProxy). Through both,
every alert reaches the receiver exactly once and none is lost.

Processing is kept light for the 2-core CI machine: 2 frames/s analysed, detection at 640 px.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import httpx
import pytest

from support.tools import require

ray = pytest.importorskip("ray", reason="the [cluster] extra (Ray) is not installed")
psycopg = pytest.importorskip("psycopg")

from support.cluster_world import (  # noqa: E402
    GROUP,
    SECRET,
    PausableProxy,
    RtspServer,
    WebhookReceiver,
    add_user,
    enrol_target,
    make_context,
    mjpeg_camera,
    wait_for,
)
from support.service_harness import serve_api  # noqa: E402
from watchkeeper.api.app import create_app  # noqa: E402
from watchkeeper.cluster.buffer import BufferStats  # noqa: E402
from watchkeeper.cluster.cli import print_status  # noqa: E402
from watchkeeper.cluster.local import LocalCluster  # noqa: E402
from watchkeeper.cluster.runtime import ClusterServices  # noqa: E402
from watchkeeper.cluster.scheduler import Scheduler  # noqa: E402
from watchkeeper.cluster.status import cluster_status  # noqa: E402
from watchkeeper.context import AppContext  # noqa: E402
from watchkeeper.demo import CLIP, EXAMPLES  # noqa: E402
from watchkeeper.enrolment import enrol_person  # noqa: E402
from watchkeeper.store import alerts as alert_store  # noqa: E402
from watchkeeper.store import outbox, repository  # noqa: E402
from watchkeeper.streams import open_source  # noqa: E402
from watchkeeper.usecases import cameras as registry  # noqa: E402
from watchkeeper.vision.imageio import encode_jpeg  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

PG = ("127.0.0.1", 5432)
MOVE_BOUND_S = 30.0  # SIGKILL of a node → its live cameras analyse again on another node
OUTAGE_S = 30.0
CAMERA_NODES = ("node-a", "node-b")


@dataclass
class Deployment:
    ctx: AppContext
    services: ClusterServices
    cluster: LocalCluster
    proxy: PausableProxy
    receiver: WebhookReceiver
    cameras: dict[str, int]  # name → id
    person_id: int


def _jpegs() -> list[bytes]:
    """The clip's first second at 960×540, as a small MJPEG camera would send it."""
    source = open_source(str(CLIP), "clip", analysis_fps=25)
    pictures = []
    for frame in source.frames():
        pictures.append(encode_jpeg(cv2.resize(frame.image, (960, 540)), quality=85))
        if len(pictures) == 25:
            source.close()
    return pictures


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, analyzer, postgres_database) -> Iterator[Deployment]:
    require("ffmpeg")
    root = tmp_path_factory.mktemp("cluster")
    name = postgres_database
    proxy = PausableProxy(PG).start()
    receiver = WebhookReceiver().start()
    rtsp = RtspServer(CLIP).start()
    mjpeg = mjpeg_camera(_jpegs(), fps=10).start()
    cluster = LocalCluster(num_cpus=1, object_store_mb=80)
    saved_env = dict(os.environ)
    os.environ.update(cluster.environment())
    services = None
    try:
        ctx = make_context(
            root / "data", analyzer,
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{name}",
            vision={"detection_max_side": 640},
            streams={"backoff_base_s": 0.2, "backoff_cap_s": 1.0, "read_timeout_s": 3.0},
            notifications={
                "webhooks": [{"url": receiver.url, "secret": SECRET}],
                "dedupe_window_s": 2, "retry_base_s": 0.2, "retry_cap_s": 2.0,
            },
            service={"gallery_refresh_s": 1.0, "shutdown_timeout_s": 20},
            cluster={"report_interval_s": 0.5, "worker_lost_after_s": 3.0,
                     "retry_base_s": 0.2, "retry_cap_s": 2.0},
        )  # fmt: skip
        person_id = enrol_target(ctx)
        cameras = {}
        for index in range(4):
            copy = root / f"clip-{index}.mp4"
            shutil.copyfile(CLIP, copy)
            cameras[f"file-{index}"] = str(copy)
        cameras |= {"rtsp": rtsp.url, "mjpeg": mjpeg.url}
        ids = {
            camera: int(
                registry.add_camera(
                    ctx.db, "test", {"name": camera, "uri": uri, "group": GROUP, "analysis_fps": 2}
                )["id"]
            )
            for camera, uri in cameras.items()
        }
        cluster.start_head()
        for node in CAMERA_NODES:
            cluster.add_node(node, {"camera_node": 1, "inference_node": 1})
        services = ClusterServices(ctx, cluster.address, log_to_driver=False)
        services.start()
        yield Deployment(ctx, services, cluster, proxy, receiver, ids, person_id)
    finally:
        if proxy.paused:
            proxy.resume()
        if services is not None:
            services.stop()
        ray.shutdown()
        cluster.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        mjpeg.stop()
        rtsp.stop()
        receiver.stop()
        proxy.stop()


def _analysed(d: Deployment, camera: str) -> int:
    status = d.services.cameras.status(d.cameras[camera])
    return status.frames_analysed if status is not None else 0


def _alerts(d: Deployment) -> list[alert_store.AlertView]:
    with d.ctx.db.session(readonly=True) as s:
        return alert_store.list_alerts(s, alert_store.AlertFilter(), limit=1000)


def _all_delivered(d: Deployment) -> bool:
    alerts = {view.alert.id for view in _alerts(d)}
    with d.ctx.db.session(readonly=True) as s:
        pending = outbox.pending_counts(s)
    return bool(alerts) and not pending and set(d.receiver.alert_ids()) == alerts


def _buffers(scheduler: Scheduler) -> list[BufferStats]:
    """The result buffers of the workers that answer."""
    return [
        s.report.buffer
        for s in scheduler.slots.values()
        if s.report is not None and s.report.buffer is not None and not s.lost
    ]


def _assert_each_alert_reached_the_receiver_once(d: Deployment) -> None:
    # the cameras keep raising alerts: every alert written by now must arrive, and nothing may
    # arrive that was not written (the store is read again after the receiver)
    alerts = {view.alert.id for view in _alerts(d)}
    wait_for(lambda: alerts <= set(d.receiver.alert_ids()), 60, "the alerts written to arrive")
    processed = d.receiver.alert_ids()
    assert alerts <= set(processed)  # none lost
    assert set(processed) <= {view.alert.id for view in _alerts(d)}  # none invented
    assert set(processed.values()) == {1}  # exactly once per alert id
    assert d.receiver.bad_signatures == 0
    # any repeat the sender made carried the key of an alert the receiver already had
    assert {key for key, _ in d.receiver.requests} == set(d.receiver.processed)


def test_cameras_are_spread_over_both_camera_nodes_and_an_enrolled_person_raises_alerts(
    deployment, capsys
):
    d = deployment
    scheduler = d.services.scheduler
    assert scheduler is not None
    owners = wait_for(
        lambda: (a := scheduler.assignments()) and len(a) == 6 and a, 60, "six cameras placed"
    )
    assert set(owners.values()) == set(d.services.workers)  # both workers have cameras
    counts = sorted(list(owners.values()).count(w) for w in d.services.workers)
    assert counts == [3, 3]  # equal cameras, equal load: an even split
    wait_for(lambda: _analysed(d, "rtsp") >= 4, 90, "frames analysed from the RTSP camera")
    files = [d.cameras[f"file-{index}"] for index in range(4)]
    wait_for(
        lambda: all((s := d.services.cameras.status(c)) and s.state == "stopped" for c in files),
        120, "the four files read to their end",
    )  # fmt: skip
    wait_for(lambda: _all_delivered(d), 90, "alerts delivered to the webhook receiver")
    alerts = _alerts(d)
    assert {view.person for view in alerts} == {"Target <b>one</b>"}
    assert {view.camera for view in alerts} >= {"file-0", "file-1", "file-2", "file-3"}
    _assert_each_alert_reached_the_receiver_once(d)

    report = cluster_status("camera_node", "inference_node")
    assert sum(n["alive"] for n in report["nodes"]) == 3
    assert sorted(w["name"] for w in report["workers"]) == sorted(d.services.workers)
    assert report["cameras"] >= 2  # the live ones at least (files may have finished)
    assert all(w["restarts"] == 0 and w["state"] == "ALIVE" for w in report["workers"])
    # each inference actor says what its models run on, as its sessions report it
    runs_on = [i["figures"]["runtime"] for i in report["inference"]]
    assert len(runs_on) == len(CAMERA_NODES)
    assert set(runs_on) == {d.ctx.analyzer.runtime}  # what this machine's settings pick
    print_status(report)
    shown = capsys.readouterr().out
    assert "runs on" in shown
    assert shown.count("wk-infer") == len(CAMERA_NODES)  # a row each, names cut to fit


def test_the_api_shows_cameras_with_their_status_and_snapshot_from_the_cluster(deployment):
    d = deployment
    token = add_user(d.ctx, "watcher", "operator")
    app = create_app(d.ctx, services=d.services, load_models=False)
    server, thread, url = serve_api(app, lifespan="off")  # the services already run
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def rtsp_analysing() -> bool:  # run alone, the test comes before the cameras are up
        cameras = client.get("/api/v1/cameras").json()["items"]
        status = next(c["status"] for c in cameras if c["name"] == "rtsp")
        return status["state"] == "connected" and status["frames_analysed"] > 0

    try:
        wait_for(rtsp_analysing, 60, "the RTSP camera analysing on the cluster")
        listed = client.get("/api/v1/cameras")
        snapshot = client.get(f"/api/v1/cameras/{d.cameras['rtsp']}/snapshot")
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)
    assert listed.status_code == 200, listed.text
    statuses = {c["name"]: c["status"] for c in listed.json()["items"]}
    assert set(statuses) == set(d.cameras)
    assert statuses["rtsp"]["state"] == "connected" and statuses["rtsp"]["frames_analysed"] > 0
    assert statuses["rtsp"]["lag_s"] is not None
    assert snapshot.status_code == 200
    assert snapshot.content[:2] == b"\xff\xd8"  # a JPEG, from the worker's memory


def test_an_enrolment_reaches_the_gallery_of_every_worker_by_its_version(deployment):
    d = deployment
    scheduler = d.services.scheduler
    assert scheduler is not None
    photo = EXAMPLES / "deepface-pairs" / "img1.jpg"
    enrol_person(
        d.ctx.db, d.ctx.media, d.ctx.analyzer, watchlist="missing", name="Second",
        photos=[(photo.name, photo.read_bytes())], actor="test", largest_face=True,
        max_pixels=50_000_000, min_quality=0.3,
    )  # fmt: skip
    with d.ctx.db.session(readonly=True) as s:
        version = repository.gallery_version(s)

    def everyone_has_it() -> bool:
        reports = [slot.report for slot in scheduler.slots.values()]
        return all(r is not None and r.gallery_version == version for r in reports)

    wait_for(everyone_has_it, 15, "every worker to rebuild its gallery")
    assert all(slot.report.gallery_size == 2 for slot in scheduler.slots.values())


def test_a_killed_camera_node_moves_its_cameras_within_the_bound_and_no_alert_is_lost(
    deployment,
):
    d = deployment
    scheduler = d.services.scheduler
    assert scheduler is not None
    owner = scheduler.assignments()[d.cameras["rtsp"]]
    slot = scheduler.slots[owner]
    assert slot.report is not None
    node = d.cluster.node_named(slot.report.node_id)
    assert node in CAMERA_NODES
    moved = {c for c, w in scheduler.assignments().items() if w == owner}
    live_moved = moved & {d.cameras["rtsp"], d.cameras["mjpeg"]}
    before = {c: _analysed(d, name) for name, c in d.cameras.items()}
    killed_at = time.monotonic()
    killed_wall = datetime.now(UTC)

    d.cluster.kill(node)

    def moved_and_running() -> bool:
        owners = scheduler.assignments()
        if any(owners.get(c) == owner for c in moved):
            return False
        return all(
            (s := d.services.cameras.status(c)) is not None
            and s.state == "connected"
            and s.frames_analysed >= 2
            for c in live_moved
        )

    wait_for(moved_and_running, MOVE_BOUND_S, "the lost node's cameras to run elsewhere")
    elapsed = time.monotonic() - killed_at
    assert elapsed < MOVE_BOUND_S
    survivor = next(w for w in d.services.workers if w != owner)
    assert {scheduler.assignments()[c] for c in live_moved} == {survivor}
    assert any(m.reason == "worker lost" and m.source == owner for m in scheduler.moves)
    assert before  # the RTSP camera keeps raising alerts on its new worker:
    wait_for(
        lambda: any(
            v.camera == "rtsp" and v.alert.created_at > killed_wall for v in _alerts(d)
        ),
        60, "an alert from the RTSP camera after the move",
    )  # fmt: skip
    wait_for(lambda: _all_delivered(d), 60, "every alert delivered")
    _assert_each_alert_reached_the_receiver_once(d)
    report = cluster_status("camera_node", "inference_node")
    assert sum(not n["alive"] for n in report["nodes"]) == 1
    lost = next(w for w in report["workers"] if w["name"] == owner)
    assert lost["state"] in ("RESTARTING", "PENDING_CREATION")  # Ray waits for a node for it
    print(f"\ncameras moved {elapsed:.1f} s after the node was killed")


def test_postgresql_away_for_30_s_loses_no_alert_and_delivers_none_twice(deployment):
    d = deployment
    scheduler = d.services.scheduler
    assert scheduler is not None
    wait_for(lambda: _all_delivered(d), 60, "a quiet start: every alert delivered")
    frames_before = _analysed(d, "rtsp")

    d.proxy.pause()
    paused_at = datetime.now(UTC)
    deadline = time.monotonic() + OUTAGE_S
    buffered = 0
    while time.monotonic() < deadline:
        buffered = max(buffered, sum(b.pending for b in _buffers(scheduler)))
        time.sleep(0.5)
    frames_during = _analysed(d, "rtsp") - frames_before
    resumed_at = datetime.now(UTC)
    d.proxy.resume()

    assert frames_during >= 0.5 * 2 * OUTAGE_S  # analysing went on, at about 2 frames/s
    assert buffered >= 1  # alerts seen during the outage waited in memory
    wait_for(
        lambda: sum(b.pending for b in _buffers(scheduler)) == 0, 60, "the buffers to be written"
    )
    wait_for(lambda: _all_delivered(d), 90, "every alert delivered after the outage")
    with d.ctx.db.session(readonly=True) as s:
        during = alert_store.page_sightings(s, since=paused_at, until=resumed_at, limit=1000)
        linked = {
            row.sighting_id
            for view in _alerts(d)
            for row in alert_store.alert_sightings(s, view.alert.id)
        }
    # people seen while the database was away were stored once it was back, each in an alert
    # (a new one, or folded into a recent one of the same person and camera)
    assert during
    assert {v.sighting.id for v in during} <= linked
    assert sum(b.written_late for b in _buffers(scheduler)) >= buffered
    assert sum(b.dropped + b.rejected for b in _buffers(scheduler)) == 0
    _assert_each_alert_reached_the_receiver_once(d)
