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
- ``after first seen``: from the first frame the person was seen in: what a person walking
  past experiences.

    .venv/bin/python bench/latency.py --seconds 60           # table
    .venv/bin/python bench/latency.py --seconds 60 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' shared helpers: support.*
sys.path.insert(0, str(REPO / "tests" / "integration" / "service"))  # its webhook receiver

from test_service_notifications import SECRET, SseListener, WebhookReceiver  # noqa: E402

from pipeline import machine  # noqa: E402
from support.camera_servers import RtspServer, free_port  # noqa: E402
from support.service_harness import GROUP, add_user, enrol_target, make_context, serve_api  # noqa: E402
from watchkeeper.api.app import create_app  # noqa: E402
from watchkeeper.api.metrics import Metrics  # noqa: E402
from watchkeeper.config import Settings  # noqa: E402
from watchkeeper.demo import CLIP  # noqa: E402
from watchkeeper.service import Services  # noqa: E402
from watchkeeper.usecases import cameras as registry  # noqa: E402
from watchkeeper.vision import FaceAnalyzer  # noqa: E402


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


def run(seconds: float, streams: int) -> dict[str, Any]:
    analyzer = FaceAnalyzer.from_config(Settings().vision)
    receiver = WebhookReceiver(free_port()).start()
    received_at: dict[str, float] = {}
    original = receiver.processed

    class Stamped(dict[str, Any]):  # records when each webhook delivery arrived
        def __setitem__(self, key: str, value: Any) -> None:
            received_at[key] = time.time()
            super().__setitem__(key, value)

    receiver.processed = Stamped(original)
    rtsp = RtspServer(CLIP).start()
    with tempfile.TemporaryDirectory() as folder:
        ctx = make_context(
            Path(folder) / "data", analyzer,
            notifications={"dedupe_window_s": 0,
                           "webhooks": [{"url": receiver.url, "secret": SECRET}]},
        )  # fmt: skip
        enrol_target(ctx)
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
    hooks = [
        received_at[key] - _ts(body["alert"]["last_seen"])
        for key, body in receiver.processed.items()
        if key in received_at
    ]
    return {
        "machine": machine(),
        "streams": streams,
        "seconds": seconds,
        "alerts": len(stamps),
        "sse_after_last_seen_s": percentiles(after_last),
        "sse_after_track_closed_s": percentiles([v - close_wait for v in after_last]),
        "sse_after_first_seen_s": percentiles([at - _ts(a["first_seen"]) for at, a in stamps]),
        "webhook_after_last_seen_s": percentiles(hooks),
        "tracker_close_wait_s": close_wait,
        "cameras": statuses,
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.seconds, args.streams)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    print(f"{result['alerts']} alerts in {args.seconds:g} s from {args.streams} live stream(s)")
    for key in (
        "sse_after_last_seen_s",
        "sse_after_track_closed_s",
        "sse_after_first_seen_s",
        "webhook_after_last_seen_s",
    ):
        print(f"  {key:28s} {result[key]}")
    print(f"  tracker close wait: {result['tracker_close_wait_s']:.2f} s")


if __name__ == "__main__":
    main()
