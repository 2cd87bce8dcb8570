"""Frame-to-alert latency on a live stream: p50/p95/p99, from the frame to the operator's screen.

The bundled 1080p clip is served as a live RTSP camera (FFmpeg, real time, looped); the
demo's passer-by is enrolled; ``watchkeeper serve``'s runtime (cameras, batcher, alerts,
dispatcher) and API run in this process. Every loop of the clip shows the person again and
(with deduplication off) raises a new alert, received by an SSE client and a webhook
receiver, as an operator's console and a VMS would. For each alert:

- ``after last seen``: from the last frame the person was seen in (stamped when decoded) to
  the event at the client; includes the tracker's wait before it decides the person has
  gone (``tracking.max_missed`` + 1 analysed frames);
- ``after track closed``: the same minus that wait: the cost of embedding, matching,
  storing (sighting, alert, outbox, audit in one transaction) and telling;
- ``after first seen``: from the first frame the person was seen in, as the camera stamped it;
- ``after in view``: from the moment the stream sent the showing's first frame, in which the
  person is already in view: what a person walking past experiences, whether or not the
  camera looked at that frame. It differs from the one before where a camera resting on key
  frames notices the person only at a later key frame and does not go back
  (``streams.rewind_live`` off): its sighting then begins late, and so does its "first seen";
- ``after first matchable``: from when the stream sent the first *analysed* frame in which
  the person's face would match (found offline: every face of every frame of the clip is
  embedded and searched in the gallery; a frame is matchable when a face of usable quality
  scores at or above the threshold).

When the stream sent a frame is told by the stream's own clock (:class:`StreamClock`), not by
when the frame reached the detector: the server sends the looped video in real time, each
analysed frame is recognised by a tiny thumbnail taken when it is handed to the detector, and
the earliest any of them arrived fixes the clock. A resting camera that goes back to the key
frame before analyses frames up to a key-frame interval after they were sent; timing them on
arrival would hide exactly that wait.

Deduplication is off, so a track that raised an alert early raises a second one when it
closes (the same ``first_seen``), and a track split in two where the person's face turned
raises one for each part. The ``pass_*`` figures are per showing of the clip (one pass: the
person is in view from its first frame to its last), counting only showings the camera
watched from start to end; an alert belongs to the showing its track began in, and a
showing's latency is that of its first alert. The ``track_*`` figures keep the first alert of
each distinct track start instead (a split-off part counts as a track of its own), and the
``sse_*`` figures count every alert. ``--quiet S`` adds S seconds of the emptied scene after
each showing, so that the camera rests on key frames between them.

The breakdown splits each showing's latency after its first matchable frame into parts that
add up to it, at the first alert's own stamps: its track's first frame (``first_seen``), the
last frame of the sighting that alerted (``last_seen``: the frame an early look judged, or the
track's last), and the alert's ``created_at`` (written in the same transaction as the sighting):

- ``matchable_to_first_seen``: until the frame that began the track was decoded: the stream's
  transport, frames queued behind the camera's work on earlier ones, decoding (negative where
  the track began before its face would match);
- ``first_seen_to_judged``: the early-match rule's wait (``tracking.early_match_after``
  detections, then a clearly better face), in frames as decoded, so frames queued meanwhile
  count too; for an alert raised at close, the whole track;
- ``judged_to_created``: the judged frame's own work: detection, embedding, screening,
  matching and the alert's transaction (and the tracker's close wait for an alert at close);
- ``created_to_sse``: the telling part (outbox, broker, SSE).

``frame_to_detector`` is, for every analysed frame of the clip, how long after the stream
sent it the frame reached the detector: the queueing a busy camera adds to everything above.

    .venv/bin/python bench/latency.py --seconds 60           # table
    .venv/bin/python bench/latency.py --seconds 60 --json
    .venv/bin/python bench/latency.py --seconds 120 --quiet 10 --no-rewind-live
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' shared helpers: support.*
sys.path.insert(0, str(REPO / "tests" / "integration" / "service"))  # its webhook receiver

import av  # noqa: E402
import cv2  # noqa: E402
from test_service_notifications import SECRET, SseListener, WebhookReceiver  # noqa: E402

from pipeline import machine, scene_video, without_faces  # noqa: E402
from support.camera_servers import RtspServer, free_port  # noqa: E402
from support.service_harness import GROUP, add_user, enrol_target, make_context, serve_api  # noqa: E402
from watchkeeper.api.app import create_app  # noqa: E402
from watchkeeper.api.metrics import Metrics  # noqa: E402
from watchkeeper.config import Settings  # noqa: E402
from watchkeeper.demo import CLIP  # noqa: E402
from watchkeeper.recognition import Recogniser  # noqa: E402
from watchkeeper.service import Services  # noqa: E402
from watchkeeper.usecases import cameras as registry  # noqa: E402
from watchkeeper.vision import AnalysedFaces, FaceAnalyzer  # noqa: E402

THUMB = (64, 36)
RATE = 25  # the clip's frame rate
STAMPS = ("first_seen", "last_seen", "created_at")  # an alert's, in the order they happen
FIRST_SEEN_SLACK_S = 0.5  # how much earlier than the stream clock a decoded frame may be stamped


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A 64×36 grey sample of a frame: enough to tell the clip's frames apart, 0.05 ms."""
    small = cv2.resize(image, THUMB, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


class StampingAnalyzer(FaceAnalyzer):
    """The real analyzer, noting when each frame reaches the detector and what it showed."""

    def __init__(self, analyzer: FaceAnalyzer) -> None:
        super().__init__(analyzer.detector, analyzer.embedder)
        self.stamps: list[tuple[float, np.ndarray]] = []

    def analyse(self, image: np.ndarray) -> AnalysedFaces:
        self.stamps.append((time.time(), thumbnail(image)))
        return super().analyse(image)


def matchable_frames(
    video: Path, analyzer: FaceAnalyzer, recogniser: Recogniser, settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Thumbnails of every frame of the video, and whether each shows a face that would match."""
    thumbs, matchable = [], []
    threshold = settings.matching.default_threshold
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="bgr24")
            thumbs.append(thumbnail(image))
            analysed = analyzer.analyse(image)
            usable = analysed.faces.quality >= settings.vision.min_quality
            hit = False
            if usable.any():
                templates = analyzer.embed(analysed.aligned[usable])
                found = recogniser.gallery.search(templates, 1, model=analyzer.model)
                hit = bool((found.scores[:, 0] >= threshold).any())
            matchable.append(hit)
    return np.stack(thumbs), np.asarray(matchable)


@dataclass
class Showing:
    """One showing of the clip on the live camera, in stream time, and its first alert."""

    start: float  # when the camera sent the showing's first frame
    first_matchable: float | None = None  # when it sent the first analysed frame that matches
    alerted: float | None = None  # when the first alert about it reached the SSE client
    alert: dict[str, Any] | None = None  # that alert
    first_seen: float | None = None  # the earliest first frame of its alerts' tracks


@dataclass(frozen=True)
class StreamClock:
    """When the looped stream sent each frame: frame ``i`` of loop ``k`` at
    ``origin + k * period + i / RATE`` (the server sends in real time, ``-re``).

    Told from the analysed frames themselves, not from when they reached the detector: a
    camera resting on key frames may go back and analyse the frames since the key frame
    before (``streams.rewind_live``) seconds after they were sent, and a passer-by's wait
    runs from when they came into view.
    """

    origin: float
    period: float

    @classmethod
    def of(cls, seen: list[tuple[float, int]], clip_frames: int, period: float) -> StreamClock:
        """From (when it reached the detector, frame index) of each analysed frame: the
        earliest any clip frame could have been sent (a frame reaches the detector after it
        was sent, never before). Frames of the quiet spell all look alike, so their index says
        nothing: they are not used."""
        sent = [at - index / RATE for at, index in seen if index < clip_frames]
        if not sent:
            raise RuntimeError("the camera analysed no frame of the clip: nothing to time")
        rough = sent[0]
        loops = [math.floor((s - rough + period / 4) / period) for s in sent]
        return cls(min(s - k * period for s, k in zip(sent, loops, strict=True)), period)

    def loop(self, sent_at: float) -> int:
        """The showing a frame sent at ``sent_at`` belongs to."""
        return math.floor((sent_at - self.origin + FIRST_SEEN_SLACK_S) / self.period)

    def sent(self, loop: int, index: int) -> float:
        return self.origin + loop * self.period + index / RATE


def showings_of(
    seen: list[tuple[float, int]],
    matchable: np.ndarray,
    clock: StreamClock,
    clip_frames: int,
    alerts: list[tuple[float, dict[str, Any]]],
) -> list[Showing]:
    """The showings the camera watched from their start to their end, each with its first
    matchable analysed frame and its first alert (the alert whose track began in it).

    A showing counts only if the camera was already analysing when it began and the bench
    ran past its end (the first and last may be partial).
    """
    clip_seen = [(at, index) for at, index in seen if index < clip_frames]
    first, last = clip_seen[0], clip_seen[-1]
    begun = clock.loop(first[0] - first[1] / RATE)
    watching_from = first[0] - first[1] / RATE - FIRST_SEEN_SLACK_S
    loops = [
        k
        for k in range(begun, clock.loop(last[0]) + 1)
        if clock.sent(k, 0) >= watching_from and clock.sent(k + 1, 0) <= last[0]
    ]
    showings = {k: Showing(start=clock.sent(k, 0)) for k in loops}
    for at, index in clip_seen:
        showing = showings.get(clock.loop(at - index / RATE))
        if showing is None or not matchable[index]:
            continue
        sent_at = showing.start + index / RATE
        if showing.first_matchable is None or sent_at < showing.first_matchable:
            showing.first_matchable = sent_at
    for at, alert in alerts:
        first_seen = _ts(alert["first_seen"])
        showing = showings.get(clock.loop(first_seen))
        if showing is None:
            continue
        if showing.alerted is None or at < showing.alerted:
            showing.alerted, showing.alert = at, alert
        showing.first_seen = min(first_seen, showing.first_seen or first_seen)
    return [showings[k] for k in loops]


def clip_index(thumbs: np.ndarray, thumb: np.ndarray) -> int:
    """Which frame of the video an analysed frame was, by its thumbnail."""
    return int(np.argmin(np.abs(thumbs - thumb).mean(axis=(1, 2))))


def percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    data = np.asarray(values)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(data, 50)), 3),
        "p95": round(float(np.percentile(data, 95)), 3),
        "p99": round(float(np.percentile(data, 99)), 3),
        "max": round(float(data.max()), 3),
    }


def with_a_quiet_spell(clip: Path, seconds: float, analyzer: FaceAnalyzer, path: Path) -> Path:
    """``clip`` followed by ``seconds`` of its first frame with every face blurred away, as a
    camera streams (no B-frames, a key frame every 2 s): between two showings the picture is
    still long enough for the camera to rest on key frames (``motion.sleep_after_s``)."""
    with av.open(str(clip)) as source:
        frames = [f.to_ndarray(format="bgr24") for f in source.decode(video=0)]
    empty = without_faces(frames[0], analyzer)
    pictures = frames + [empty] * round(seconds * RATE)
    return scene_video(pictures, empty.shape, RATE, path)


def run(
    seconds: float,
    streams: int,
    early_looks: int,
    early_after: int,
    quiet_s: float,
    rewind_live: bool,
) -> dict[str, Any]:
    analyzer = StampingAnalyzer(FaceAnalyzer.from_config(Settings().vision))
    receiver = WebhookReceiver(free_port()).start()
    received_at: dict[str, float] = {}
    original = receiver.processed

    class Stamped(dict[str, Any]):  # records when each webhook delivery arrived
        def __setitem__(self, key: str, value: Any) -> None:
            received_at[key] = time.time()
            super().__setitem__(key, value)

    receiver.processed = Stamped(original)
    with tempfile.TemporaryDirectory() as folder:
        video = CLIP
        if quiet_s:
            video = with_a_quiet_spell(CLIP, quiet_s, analyzer, Path(folder) / "quiet.mp4")
        rtsp = RtspServer(video).start()
        ctx = make_context(
            Path(folder) / "data", analyzer,
            tracking={"early_match_looks": early_looks, "early_match_after": early_after},
            streams={"rewind_live": rewind_live},
            notifications={"dedupe_window_s": 0,
                           "webhooks": [{"url": receiver.url, "secret": SECRET}]},
        )  # fmt: skip
        enrol_target(ctx)
        settings = ctx.settings
        recogniser = Recogniser(
            ctx.db, settings.matching, analyzer.model, analyzer.embedder.dimension
        )
        thumbs, matchable = matchable_frames(video, analyzer, recogniser, settings)
        clip_frames = len(thumbs) - round(quiet_s * RATE)
        analyzer.stamps.clear()
        for index in range(streams):
            camera = {"name": f"live-{index}", "uri": rtsp.url, "group": GROUP}
            registry.add_camera(ctx.db, "bench", camera)
        token = add_user(ctx, "bench", "operator")
        metrics = Metrics()
        services = Services(ctx, registry=metrics.registry)
        server, thread, url = serve_api(create_app(ctx, services=services, metrics=metrics))
        sse = SseListener(url, token)
        stamps: list[tuple[float, dict[str, Any]]] = []
        watcher = threading.Thread(target=_stamp, args=(sse, stamps, seconds), daemon=True)
        watcher.start()
        watcher.join()
        statuses = [s.as_dict() for s in services.cameras.statuses()]
        sse.close()
        services.broker.close()  # as `watchkeeper serve` does on SIGTERM
        server.should_exit = True
        thread.join(30)
        ctx.close()
        rtsp.stop()
    receiver.stop()
    settings = Settings()
    close_wait = (settings.tracking.max_missed + 1) / settings.streams.analysis_fps
    after_last = [at - _ts(a["last_seen"]) for at, a in stamps]
    # With deduplication off, a track that raised an alert early raises another when it
    # closes (same first_seen): per track, the first of them counts.
    tracks: dict[str, tuple[float, dict[str, Any]]] = {}
    for at, alert in stamps:
        tracks.setdefault(alert["first_seen"], (at, alert))
    seen = [(at, clip_index(thumbs, thumb)) for at, thumb in analyzer.stamps]
    clock = StreamClock.of(seen, clip_frames, len(thumbs) / RATE)
    showings = showings_of(seen, matchable, clock, clip_frames, stamps)
    # (came into view, first seen, first matchable, alert created, alert at the client)
    told = [
        (s.start, s.first_seen, s.first_matchable, _ts(s.alert["created_at"]), s.alerted)
        for s in showings
        if s.alert is not None and s.alerted is not None and s.first_seen is not None
    ]
    timed = [(m, created, at) for _, _, m, created, at in told if m is not None]
    # (first matchable, its alert's track first seen, the judged frame, created, at the client)
    parts = [
        (s.first_matchable, *(_ts(s.alert[key]) for key in STAMPS), s.alerted)
        for s in showings
        if s.first_matchable is not None and s.alert is not None and s.alerted is not None
    ]
    to_detector = [
        at - clock.sent(clock.loop(at - index / RATE), index)
        for at, index in seen
        if index < clip_frames
    ]
    hooks = [
        received_at[key] - _ts(body["alert"]["last_seen"])
        for key, body in receiver.processed.items()
        if key in received_at
    ]
    return {
        "machine": machine(),
        "streams": streams,
        "quiet_s_between_showings": quiet_s,
        "early_match_looks": early_looks,
        "early_match_after": early_after,
        "seconds": seconds,
        "alerts": len(stamps),
        "sse_after_last_seen_s": percentiles(after_last),
        "sse_after_track_closed_s": percentiles([v - close_wait for v in after_last]),
        "sse_after_first_seen_s": percentiles([at - _ts(a["first_seen"]) for at, a in stamps]),
        "rewind_live": rewind_live,
        "passes": len(showings),
        "passes_without_alert": len(showings) - len(told),
        "pass_after_in_view_s": percentiles([at - start for start, _, _, _, at in told]),
        "pass_after_first_seen_s": percentiles([at - seen for _, seen, _, _, at in told]),
        "pass_after_first_matchable_s": percentiles([at - m for m, _, at in timed]),
        "breakdown_matchable_to_created_s": percentiles([c - m for m, c, _ in timed]),
        "breakdown_matchable_to_first_seen_s": percentiles([f - m for m, f, *_ in parts]),
        "breakdown_first_seen_to_judged_s": percentiles([j - f for _, f, j, *_ in parts]),
        "breakdown_judged_to_created_s": percentiles([c - j for *_, j, c, _ in parts]),
        "breakdown_created_to_sse_s": percentiles([at - c for _, c, at in timed]),
        "frame_to_detector_s": percentiles(to_detector),
        "tracks": len(tracks),
        "track_after_first_seen_s": percentiles(
            [at - _ts(a["first_seen"]) for at, a in tracks.values()]
        ),
        "matchable_clip_frames": int(matchable.sum()),
        "webhook_after_last_seen_s": percentiles(hooks),
        "tracker_close_wait_s": close_wait,
        "showings": [
            {
                "first_seen": round(seen - start, 3),
                "first_matchable": None if m is None else round(m - start, 3),
                "alert_created": round(created - start, 3),
                "alert_at_client": round(at - start, 3),
            }
            for start, seen, m, created, at in told
        ],  # seconds after the showing began
        "cameras": statuses,
        "alerts_seen": [
            {
                "received": at,
                "first_seen": a["first_seen"],
                "last_seen": a["last_seen"],
                "created_at": a["created_at"],
            }
            for at, a in stamps
        ],
    }


def _stamp(sse: SseListener, stamps: list[tuple[float, dict[str, Any]]], seconds: float) -> None:
    """Note the receipt time of every alert.created event for ``seconds``."""
    seen = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = sse.events
        for kind, _id, data in events[seen:]:
            if kind == "alert.created":
                stamps.append((time.time(), data))
        seen = len(events)
        time.sleep(0.005)


def _ts(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--streams", type=int, default=1, help="Cameras watching the stream.")
    parser.add_argument(
        "--early-looks", type=int, default=Settings().tracking.early_match_looks,
        help="tracking.early_match_looks (1: the rule before 2026-11-29)",
    )  # fmt: skip
    parser.add_argument(
        "--early-after", type=int, default=Settings().tracking.early_match_after,
        help="tracking.early_match_after (1: screen a track at its first detection)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.0,
        help="seconds of an empty, still picture after each showing (re-encoded with a key "
        "frame every 2 s): the camera rests on key frames between showings",
    )
    parser.add_argument(
        "--rewind-live", action=argparse.BooleanOptionalAction,
        default=Settings().streams.rewind_live,
        help="streams.rewind_live: a camera woken at rest reads the frames since the key "
        "frame before first",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(
        args.seconds, args.streams, args.early_looks, args.early_after, args.quiet,
        args.rewind_live,
    )  # fmt: skip
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    print(f"{result['alerts']} alerts in {args.seconds:g} s from {args.streams} live stream(s)")
    for key in (
        "sse_after_last_seen_s",
        "sse_after_track_closed_s",
        "sse_after_first_seen_s",
        "pass_after_in_view_s",
        "pass_after_first_seen_s",
        "pass_after_first_matchable_s",
        "track_after_first_seen_s",
        "breakdown_matchable_to_created_s",
        "breakdown_matchable_to_first_seen_s",
        "breakdown_first_seen_to_judged_s",
        "breakdown_judged_to_created_s",
        "breakdown_created_to_sse_s",
        "frame_to_detector_s",
        "webhook_after_last_seen_s",
    ):
        print(f"  {key:36s} {result[key]}")
    print(f"  tracker close wait: {result['tracker_close_wait_s']:.2f} s")


if __name__ == "__main__":
    main()
