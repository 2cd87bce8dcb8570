"""How many live 1080p 25 frames/s streams one machine analyses at 5 frames/s with bounded lag.

Each stream is the bundled 1080p clip served as its own live RTSP camera (one FFmpeg each,
real time, no re-encoding), as a camera streams it (no B-frames, so every frame is decoded;
``--as-recorded`` serves the phone's file as it is); the service runtime of ``watchkeeper
serve`` (one thread per camera, shared batcher, gallery, alerts) watches them all. For 1,
2, 3, ... streams it samples every camera once a second and calls the load *sustained*
when, after a warm-up:

- every camera analyses at least 90 % of its 5 frames/s;
- the lag stays bounded: the 95th percentile of (network backlog at the camera server +
  age of each frame when its analysis ends) is under ``--max-lag`` seconds, and the mean lag
  of the last third of the run is not more than 0.5 s above that of the first third;
- no packet was dropped because a camera fell too far behind.

It stops at the first count that is not sustained. ``--gil`` also samples how long the
service holds the GIL (bench/gil.py): what bounds the cameras one process can carry.
``--profile`` instead runs one stream in the main thread under cProfile and shows where the
CPU time goes.

    .venv/bin/python bench/streams.py                      # 1, 2, 3, ... until it fails
    .venv/bin/python bench/streams.py --counts 1,2,4 --json
    .venv/bin/python bench/streams.py --counts 4,8 --gil
    .venv/bin/python bench/streams.py --profile --seconds 30
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tests' shared helpers: support.*

from gil import GilSample, GilSampler  # noqa: E402
from pipeline import CAMERA_STREAM, as_a_camera_sends_it, machine  # noqa: E402
from support.camera_servers import RtspServer  # noqa: E402
from support.service_harness import make_context  # noqa: E402
from watchkeeper.config import Settings  # noqa: E402
from watchkeeper.demo import CLIP  # noqa: E402
from watchkeeper.pipeline import CameraPipeline, CameraWorker  # noqa: E402
from watchkeeper.service import Services  # noqa: E402
from watchkeeper.streams import open_source  # noqa: E402
from watchkeeper.usecases import cameras as registry  # noqa: E402
from watchkeeper.vision import FaceAnalyzer  # noqa: E402

WARM_UP_S = 8.0  # the clip has one key frame per 4.2 s loop: decoding starts at the next one
FPS = 5.0


def measure(
    analyzer: FaceAnalyzer,
    count: int,
    seconds: float,
    overrides: dict[str, Any],
    clip: Path = CLIP,
    gil: bool = False,
) -> dict[str, Any]:
    servers = [RtspServer(clip).start() for _ in range(count)]
    with tempfile.TemporaryDirectory() as folder:
        ctx = make_context(Path(folder) / "data", analyzer, **overrides)
        for index, server in enumerate(servers):
            camera = {"name": f"cam-{index}", "uri": server.url, "analysis_fps": FPS}
            registry.add_camera(ctx.db, "bench", camera)
        services = Services(ctx)
        services.start()
        time.sleep(WARM_UP_S)
        samples: list[list[tuple[float, float]]] = []  # per second: (fps, lag) per camera
        # the camera servers' relay threads live in this process; a service has none
        sampler = GilSampler(seconds, exclude=("camera_servers.py",)) if gil else None
        with sampler or contextlib.nullcontext():
            cpu_start, wall_start = os.times(), time.monotonic()
            while time.monotonic() - wall_start < seconds:
                time.sleep(1.0)
                row = []
                for status, server in zip(services.cameras.statuses(), servers, strict=True):
                    lag = (status.lag_s or 0.0) + server.backlog_s()
                    row.append((status.fps_analysed, lag))
                samples.append(row)
            cpu_end, wall = os.times(), time.monotonic() - wall_start
        statuses = services.cameras.statuses()
        services.stop()
        ctx.close()
    dropped = sum(server.dropped for server in servers)
    for server in servers:
        server.stop()
    fps = np.array([[fps for fps, _ in row] for row in samples])
    lag = np.array([[lag for _, lag in row] for row in samples])
    third = max(1, len(samples) // 3)
    growth = float(lag[-third:].mean() - lag[:third].mean())
    cpu = (cpu_end.user - cpu_start.user + cpu_end.system - cpu_start.system) / wall
    held = {} if sampler is None else _gil_figures(sampler.result, cpu, count)
    return {
        "streams": count,
        "fps_analysed_min_median": round(float(np.median(fps, axis=0).min()), 2),
        "lag_p50_s": round(float(np.percentile(lag, 50)), 3),
        "lag_p95_s": round(float(np.percentile(lag, 95)), 3),
        "lag_growth_s": round(growth, 3),
        "dropped_packets": dropped,
        "cpu_cores_busy": round(cpu, 2),
        "faces_per_s": round(sum(s.faces_per_s for s in statuses), 1),
        "errors": sum(s.errors for s in statuses),
        **held,
    }


def _gil_figures(sample: GilSample, cores_busy: float, count: int) -> dict[str, Any]:
    """The GIL's share of the wall time, of the process's CPU time and per stream: with
    ``gil_share_of_cpu`` the cameras one process can carry follow from their CPU cost."""
    return {
        "gil_held": sample.held,
        "gil_held_by_camera_servers": sample.excluded,
        "gil_share_of_cpu": round(sample.held / cores_busy, 4) if cores_busy else None,
        "gil_held_per_stream": round(sample.held / count, 4),
        "gil_holders": sample.holders[:6],
    }


def sustained(result: dict[str, Any], max_lag: float) -> bool:
    return (
        result["fps_analysed_min_median"] >= 0.9 * FPS
        and result["lag_p95_s"] < max_lag
        and result["lag_growth_s"] <= 0.5
        and result["dropped_packets"] == 0
    )


def profile(analyzer: FaceAnalyzer, seconds: float, overrides: dict[str, Any]) -> dict[str, Any]:
    """One stream, decoded and analysed in this thread under cProfile."""
    server = RtspServer(CLIP).start()
    settings = Settings(**overrides)
    source = open_source(
        server.url, "profiled", FPS, skip_nonref=settings.streams.skip_nonref, reconnect=True
    )
    pipeline = CameraPipeline("profiled", analyzer, settings.tracking, settings.vision.min_quality)
    worker = CameraWorker(source, pipeline, lambda _s: [], lambda _s, _m: None)
    threading.Timer(WARM_UP_S + seconds, worker.stop, kwargs={"timeout": 0}).start()
    profiler = cProfile.Profile(time.thread_time)  # CPU time of this thread, not waiting
    started = time.monotonic()
    profiler.enable()
    worker.run()
    profiler.disable()
    wall = time.monotonic() - started
    server.stop()
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values())
    spent: dict[str, float] = {}
    for key, entry in entries.items():
        _attribute(entries, key, entry[2], spent)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    per_frame = total / max(1, pipeline.stats.frames)
    return {
        "wall_s": round(wall, 1),
        "frames_analysed": pipeline.stats.frames,
        "cpu_s_per_frame": round(per_frame, 4),
        # CPU a stream needs at 5 frames/s, whatever else runs on the machine
        "cores_per_stream": round(per_frame * FPS, 3),
        "streams_per_core": round(1 / (per_frame * FPS), 2),
        "share": {k: round(v / total, 3) for k, v in sorted(spent.items(), key=lambda i: -i[1])},
        "top": text.getvalue(),
    }


def _analyse_clip(repeats: int) -> int:
    """Analyse the clip ``repeats`` times as fast as possible (a file is not real time)."""
    settings = Settings()
    analyzer = FaceAnalyzer.from_config(settings.vision)
    frames = 0
    for _ in range(repeats):
        source = open_source(str(CLIP), "clip", 10.0)
        pipeline = CameraPipeline("clip", analyzer, settings.tracking, settings.vision.min_quality)
        CameraWorker(source, pipeline, lambda _s: [], lambda _s, _m: None).run()
        frames += pipeline.stats.frames
    return frames


def threads_vs_processes(workers: int, repeats: int) -> dict[str, Any]:
    """Frames analysed per second by ``workers`` cameras as threads of one process and as
    separate processes (each with its own models), on the same file, back to back."""
    import multiprocessing

    _analyse_clip(1)  # warm the file cache and the model files
    results = {}
    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        frames = sum(pool.map(_analyse_clip, [repeats] * workers))
    results["threads_frames_per_s"] = round(frames / (time.monotonic() - started), 2)
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        frames = sum(pool.map(_analyse_clip, [repeats] * workers))
    results["processes_frames_per_s"] = round(frames / (time.monotonic() - started), 2)
    started = time.monotonic()
    frames = _analyse_clip(repeats)
    results["one_thread_frames_per_s"] = round(frames / (time.monotonic() - started), 2)
    return {"workers": workers, **results}


CATEGORIES = {
    "decode (PyAV/FFmpeg)": ("av_source.py", "reconnect.py", "'decode' of 'av", "to_ndarray"),
    "detect (ONNX Runtime + pre/post)": ("detector.py",),
    "align + quality (OpenCV)": ("align.py", "quality.py"),
    "embed (ONNX Runtime)": ("embedder.py",),
    "track": ("tracker.py", "camera.py"),
}


def _category(key: tuple[str, int, str]) -> str | None:
    filename, _line, name = key
    label = f"{filename}:{name}"
    for category, needles in CATEGORIES.items():
        if any(needle in label for needle in needles):
            return category
    return None


def _attribute(
    entries: dict[Any, Any],
    key: tuple[str, int, str],
    seconds: float,
    spent: dict[str, float],
    depth: int = 8,
) -> None:
    """Add a function's own time to its category; a built-in or library function works for
    its callers, so its time is shared among them in proportion to the time each call took."""
    category = _category(key)
    callers = entries.get(key, (0, 0, 0, 0, {}))[4]
    weights = {c: edge[3] for c, edge in callers.items() if edge[3] > 0}
    if category is None and weights and depth > 0:
        total = sum(weights.values())
        for caller, weight in weights.items():
            _attribute(entries, caller, seconds * weight / total, spent, depth - 1)
        return
    category = category or "other (Python glue, numpy)"
    spent[category] = spent.get(category, 0.0) + seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="", help="Stream counts to try, e.g. 1,2,4.")
    parser.add_argument("--seconds", type=float, default=30.0, help="Measured time per count.")
    parser.add_argument("--max-lag", type=float, default=2.0, help="Bound on the p95 lag (s).")
    parser.add_argument("--detect-side", type=int, default=None, help="vision.detection_max_side")
    parser.add_argument("--best-k", type=int, default=None, help="tracking.best_k (embeddings)")
    parser.add_argument("--no-skip-nonref", action="store_true", help="Decode every frame.")
    parser.add_argument("--profile", action="store_true", help="Profile one stream instead.")
    parser.add_argument(
        "--threads-vs-processes", type=int, default=0, metavar="N",
        help="Compare N cameras as threads and as processes instead.",
    )  # fmt: skip
    parser.add_argument(
        "--as-recorded", action="store_true",
        help="Serve the clip as the phone recorded it (B-frames the service leaves undecoded) "
        "instead of re-encoded as a camera streams it.",
    )  # fmt: skip
    parser.add_argument(
        "--gil", action="store_true",
        help="Also sample how long the service holds the GIL (py-spy, bench/gil.py).",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    vision = Settings().vision
    if args.detect_side:
        vision = vision.model_copy(update={"detection_max_side": args.detect_side})
    analyzer = FaceAnalyzer.from_config(vision)
    overrides: dict[str, Any] = {"streams": {"skip_nonref": not args.no_skip_nonref}}
    if args.best_k:
        overrides["tracking"] = {"best_k": args.best_k}
    report: dict[str, Any] = {"machine": machine(), "load_avg": os.getloadavg(), "runs": []}
    report["settings"] = {"detection_max_side": vision.detection_max_side, **overrides}
    if args.threads_vs_processes:
        report["threads_vs_processes"] = threads_vs_processes(args.threads_vs_processes, 2)
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    if args.profile:
        report["profile"] = profile(analyzer, args.seconds, overrides)
    else:
        counts = [int(c) for c in args.counts.split(",") if c] or range(1, 64)
        clip = CLIP
        if not args.as_recorded:  # a camera streams no B-frames: it decodes every frame
            clip = as_a_camera_sends_it(CLIP, Path(tempfile.mkdtemp(prefix="wk-")) / "cam.mp4")
        report["clip"] = "as recorded" if args.as_recorded else CAMERA_STREAM
        for count in counts:
            result = measure(analyzer, count, args.seconds, overrides, clip, args.gil)
            result["sustained"] = sustained(result, args.max_lag)
            report["runs"].append(result)
            if not args.json:
                print(json.dumps(result), flush=True)
            if not result["sustained"] and not args.counts:
                break
        good = [r["streams"] for r in report["runs"] if r["sustained"]]
        report["max_sustained_streams"] = max(good, default=0)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif args.profile:
        print(json.dumps({k: v for k, v in report["profile"].items() if k != "top"}, indent=2))
        print(report["profile"]["top"])
    else:
        print(
            f"max sustained streams: {report['max_sustained_streams']} (load {report['load_avg']})"
        )


if __name__ == "__main__":
    main()
