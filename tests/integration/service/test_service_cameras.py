"""The camera manager against real stream servers: reconnection, isolation of a broken camera."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from support.camera_servers import RtspServer, garbage_camera, mjpeg_camera
from support.service_harness import GROUP, enrol_target, make_context, wait_for
from support.video import write_h264
from watchkeeper.alerts import AlertService
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, probe_photo, read_frame
from watchkeeper.domain import Match, Sighting
from watchkeeper.service import InferenceBatcher, Services
from watchkeeper.service.camera import CameraRunner, CameraSpec
from watchkeeper.store import alerts as alert_store
from watchkeeper.streams import open_source
from watchkeeper.usecases import cameras as registry
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import decode_image, encode_jpeg

FAST_RECONNECT = {"backoff_base_s": 0.2, "backoff_cap_s": 1.0, "read_timeout_s": 3.0}


@pytest.fixture
def ctx(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[AppContext]:
    context = make_context(tmp_path / "data", analyzer, streams=FAST_RECONNECT)
    yield context
    context.close()


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    """Ten frames of the clip at 640×360, as a small MJPEG camera would send them."""
    source = open_source(str(CLIP), "clip", analysis_fps=25)
    pictures = []
    for frame in source.frames():
        pictures.append(encode_jpeg(cv2.resize(frame.image, (640, 360)), quality=80))
        if len(pictures) == 10:
            source.close()
    return pictures


def add(ctx: AppContext, name: str, uri: str) -> int:
    return int(registry.add_camera(ctx.db, "test", {"name": name, "uri": uri})["id"])


def test_an_rtsp_camera_reconnects_after_the_stream_restarts_and_produces_again(ctx):
    server = RtspServer(CLIP).start()
    services = Services(ctx)
    camera = add(ctx, "entrance", server.url)
    services.start()
    try:
        status = wait_for(
            lambda: (s := services.cameras.status(camera)) and s.frames_analysed >= 3 and s,
            30, "frames from the RTSP camera",
        )  # fmt: skip
        assert status.state == "connected"
        assert services.cameras.snapshot(camera)[:2] == b"\xff\xd8"  # a JPEG, from memory
        server.stop()
        dropped = wait_for(
            lambda: (s := services.cameras.status(camera)).state != "connected" and s,
            15, "the camera to notice the drop",
        )  # fmt: skip
        assert dropped.state in ("reconnecting", "connecting")
        assert "stream" in (dropped.reason or "")
        before = services.cameras.status(camera).frames_analysed
        server.start()  # same port: the camera comes back
        back = wait_for(
            lambda: (s := services.cameras.status(camera)).frames_analysed >= before + 3 and s,
            30, "frames after the restart",
        )  # fmt: skip
        assert back.state == "connected"
        assert back.attempts >= 2
        assert server.sessions >= 2
    finally:
        services.stop()
        server.stop()


def test_a_stream_of_garbage_fails_its_camera_and_no_other(ctx, jpegs):
    good, bad = mjpeg_camera(jpegs).start(), garbage_camera().start()
    services = Services(ctx)
    good_id, bad_id = add(ctx, "lobby", good.url), add(ctx, "broken", bad.url)
    services.start()
    try:
        wait_for(
            lambda: services.cameras.status(bad_id).attempts >= 2, 20, "two tries of the garbage"
        )
        healthy = wait_for(
            lambda: (s := services.cameras.status(good_id)).frames_analysed >= 5 and s,
            20, "frames from the good camera",
        )  # fmt: skip
        broken = services.cameras.status(bad_id)
        assert healthy.state == "connected" and healthy.reason is None
        assert broken.state in ("reconnecting", "connecting", "failed")
        assert broken.frames_analysed == 0
        assert "cannot open the stream" in (broken.reason or "")
        assert bad.requests >= 2
    finally:
        services.stop()
        good.stop()
        bad.stop()
    assert {s.state for s in services.cameras.statuses()} <= {"stopped", "disabled"}


def test_a_camera_with_an_unreachable_host_keeps_retrying_without_blocking_start(ctx, jpegs):
    good = mjpeg_camera(jpegs).start()
    services = Services(ctx)
    dead = add(ctx, "dead", "rtsp://127.0.0.1:9/nothing")
    alive = add(ctx, "alive", good.url)
    services.start()
    try:
        wait_for(lambda: services.cameras.status(alive).frames_analysed >= 3, 20, "frames")
        status = wait_for(
            lambda: (s := services.cameras.status(dead)).attempts >= 2 and s, 20, "retries"
        )
        assert status.state in ("reconnecting", "connecting")
        assert "Connection refused" in (status.reason or "")
    finally:
        services.stop()
        good.stop()


class HeldDecision:
    """A matcher that holds the worker on the first sighting ``hold`` picks until ``go_on``."""

    def __init__(self, hold: Callable[[Sighting], bool]) -> None:
        self.hold = hold
        self.deciding, self.go_on = threading.Event(), threading.Event()
        self.asked: list[Sighting] = []

    def match(self, sighting: Sighting) -> list[Match]:
        self.asked.append(sighting)
        if not self.deciding.is_set() and self.hold(sighting):
            self.deciding.set()
            self.go_on.wait(30)
        return []


@contextmanager
def recording(ctx: AppContext, matcher: HeldDecision) -> Iterator[CameraRunner]:
    """The clip played as a recorded camera at 2 analysed frames/s, through ``matcher``."""
    batcher = InferenceBatcher(ctx.analyzer)
    batcher.start()
    alerts = AlertService(ctx.db, ctx.media, ctx.settings.notifications)
    runner = CameraRunner(
        CameraSpec(1, "recording", str(CLIP), analysis_fps=2), batcher, matcher.match, alerts,
        ctx.settings,
    )  # fmt: skip
    runner.start()
    try:
        yield runner
    finally:
        matcher.go_on.set()
        runner.request_stop()
        runner.join(10)
        batcher.stop()


def test_a_recording_is_stopped_only_once_its_last_open_tracks_are_decided(ctx):
    """The file ends with people in view: their tracks close after the last frame, and a caller
    that waits for "stopped" (a test, an investigation, an operator) must find them recorded."""
    last_frame = [f.index for f in open_source(str(CLIP), "probe", analysis_fps=2).frames()][-1]
    matcher = HeldDecision(lambda sighting: sighting.last_frame == last_frame)  # open at the end
    with recording(ctx, matcher) as runner:
        assert matcher.deciding.wait(60), "no track was open at the end of the clip"
        held = runner.status()
        assert held.state == "connected"  # read to its end, but not done
        matcher.go_on.set()
        done = wait_for(lambda: (s := runner.status()).state == "stopped" and s, 30, "the end")
        assert done.frames_analysed == 9
        assert done.sightings == len(matcher.asked)  # every sighting handed on by "stopped"


def test_a_camera_asked_to_stop_says_stopping_until_its_open_tracks_are_decided(ctx):
    """An operator who stops a camera, and sees "stopped", must find its sightings recorded."""
    matcher = HeldDecision(lambda _sighting: True)  # busy with a decision when the stop comes
    with recording(ctx, matcher) as runner:
        assert matcher.deciding.wait(60), "no sighting was decided"
        runner.request_stop()
        assert runner.status().state == "stopping"
        matcher.go_on.set()
        done = wait_for(lambda: (s := runner.status()).state == "stopped" and s, 30, "the stop")
        assert not runner.alive
        assert done.sightings == len(matcher.asked)  # every sighting handed on by "stopped"


def arcade_roof() -> np.ndarray:
    """The top left of the clip's first frame, 640×360: the arcade's roof, nobody in it."""
    source = open_source(str(CLIP), "clip", analysis_fps=25)
    empty = next(iter(source.frames())).image[:360, :640].copy()
    source.close()
    return empty


def still_scene_video(path: Path) -> Path:
    """4 s of the arcade's roof held, 25 fps, a key frame every 0.4 s."""
    return write_h264(path, [arcade_roof()] * 100, key_interval=10)


def test_a_camera_on_a_still_scene_rests_on_its_key_frames(tmp_path, analyzer):
    ctx = make_context(
        tmp_path / "data", analyzer, streams=FAST_RECONNECT, motion={"sleep_after_s": 1.0}
    )
    server = RtspServer(still_scene_video(tmp_path / "hall.mp4")).start()
    services = Services(ctx)
    camera = add(ctx, "hall", server.url)
    services.start()
    try:
        resting = wait_for(
            lambda: (s := services.cameras.status(camera)).key_frames_only and s,
            30, "the camera to rest on key frames",
        )  # fmt: skip
        assert resting.state == "connected"
        frames_in = resting.frames_in
        time.sleep(2.0)  # key frames only: 2.5 a second instead of 25
        assert services.cameras.status(camera).frames_in - frames_in <= 8
    finally:
        services.stop()
        server.stop()
        ctx.close()


def wait_until_resting(
    services: Services, camera: int, resting: bool = True, timeout: float = 30
) -> None:
    """Until the camera reads key frames only (``resting``) or every frame again."""
    wait_for(
        lambda: services.cameras.status(camera).key_frames_only == resting, timeout,
        "the camera to rest on key frames" if resting else "the camera to wake",
    )  # fmt: skip


def test_a_camera_rests_while_whatever_moves_lies_outside_its_region(tmp_path, analyzer):
    """A screen above the door plays all day; faces count only below it (the camera's roi):
    the camera rests on key frames as if the picture were still."""
    ctx = make_context(
        tmp_path / "data", analyzer, streams=FAST_RECONNECT, motion={"sleep_after_s": 1.0}
    )
    empty = arcade_roof()
    pictures = []
    for index in range(100):
        picture = empty.copy()
        picture[20:100, 40:220] = (37 * index) % 256  # a new picture on the screen each frame
        pictures.append(picture)
    server = RtspServer(write_h264(tmp_path / "screen.mp4", pictures, key_interval=10)).start()
    services = Services(ctx)
    roi = [0.0, 0.5, 1.0, 1.0]
    camera = registry.add_camera(ctx.db, "test", {"name": "door", "uri": server.url, "roi": roi})
    services.start()
    try:
        wait_until_resting(services, camera["id"])
    finally:
        services.stop()
        server.stop()
        ctx.close()


DOOR_KEY_INTERVAL = 25  # frames: a key frame every second
DOOR_IN_VIEW = (102, 162)  # the frames the person is in view: from just after a key frame


def person_at_the_door_video(path: Path, portrait: np.ndarray) -> Path:
    """10 s of the arcade's empty roof (640×360, 25 fps, a key frame every second) in which
    the enrolled person stands in view for 2.4 s, appearing two frames after a key frame: a
    camera resting on key frames notices them only on the next one, 0.92 s later."""
    empty = arcade_roof()
    there = empty.copy()
    height, width = portrait.shape[:2]
    there[40 : 40 + height, 240 : 240 + width] = portrait
    first, last = DOOR_IN_VIEW
    pictures = [there if first <= index < last else empty for index in range(250)]
    return write_h264(path, pictures, key_interval=DOOR_KEY_INTERVAL)


def test_a_live_camera_woken_at_rest_sees_the_person_from_their_first_frame(tmp_path, analyzer):
    """With streams.rewind_live (the default), a camera resting on key frames that a key frame
    wakes goes back to the key frame before: the alert's sighting runs from the frame the
    person came into view, not from the key frame that showed them (0.92 s later here)."""
    ctx = make_context(
        tmp_path / "data", analyzer, streams=FAST_RECONNECT, motion={"sleep_after_s": 1.0},
        notifications={"dedupe_window_s": 0},
    )  # fmt: skip
    enrol_target(ctx)
    photo, _box = probe_photo(ctx, read_frame(CLIP, 5))
    video = person_at_the_door_video(tmp_path / "door.mp4", decode_image(photo, 10**7))
    with av.open(str(video)) as container:
        keys = [i for i, p in enumerate(container.demux(video=0)) if p.is_keyframe]
    assert keys == list(range(0, 250, DOOR_KEY_INTERVAL))  # no key frame where they appear
    server = RtspServer(video).start()
    services = Services(ctx)
    camera = registry.add_camera(
        ctx.db, "test", {"name": "door", "uri": server.url, "group": GROUP}
    )
    services.start()
    try:
        wait_until_resting(services, camera["id"])
        rested_at = datetime.now(UTC)
        wait_for(lambda: _alerts_since(ctx, rested_at), 30, "an alert after the camera rested")
        wait_until_resting(services, camera["id"], resting=False, timeout=5)
        # the person left, their track closed: the showing's last alert is in
        wait_until_resting(services, camera["id"])
        alerts = _alerts_since(ctx, rested_at)
    finally:
        services.stop()
        server.stop()
        ctx.close()
    seen_for = max(last for _, last in alerts) - min(first for first, _ in alerts)
    first, last = DOOR_IN_VIEW
    in_view = (last - first) / 25
    # seen within one analysed frame (0.2 s) of either end; from the waking key frame on, it
    # could have been 1.48 s at most
    assert seen_for.total_seconds() >= in_view - 0.4


def _alerts_since(ctx: AppContext, moment: datetime) -> list[tuple[datetime, datetime]]:
    """(first seen, last seen) of the alerts whose person was first seen after ``moment``."""
    with ctx.db.session() as s:
        spans = [
            (view.alert.first_seen.replace(tzinfo=UTC), view.alert.last_seen.replace(tzinfo=UTC))
            for view in alert_store.list_alerts(s, alert_store.AlertFilter())
        ]
    return [(first, last) for first, last in spans if first > moment]
