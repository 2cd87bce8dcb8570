"""Frames/s analysed through the Ray cluster path against the same work in one process.

The same cameras — copies of the bundled 1080p clip, looped, read as fast as they decode —
run three ways on this machine, against the local PostgreSQL (a throw-away database each):

- ``in-process``: the single-machine runtime (``watchkeeper.service.Services``): one
  process, a thread per camera, one inference batcher;
- ``cluster, 1 camera node``: ``ClusterServices`` on a local Ray cluster (head + one node
  offering ``camera_node`` and ``inference_node``): the camera worker actor sends every frame
  to the inference actor and gets faces back;
- ``cluster, 2 camera nodes``: the same with two nodes, so cameras spread over two workers
  and two inference actors.

Throughput is frames analysed (all cameras) divided by the wall time from the first camera
starting to the last finishing; its overhead (``×``) is in-process throughput over cluster
throughput. On a machine shared with other work, wall time favours whoever runs more
processes, so the CPU time of every process involved (this one, and every process of every
Ray node: raylets, GCS, actors) per analysed frame is reported too, with its own ratio: that
is the cost the cluster path adds. All nodes share this machine's cores: two nodes add
processes, not cores, so the 1 → 2 node figure shows what spreading costs here, not what a
second machine adds.

    .venv/bin/python bench/cluster.py                  # a table
    .venv/bin/python bench/cluster.py --json out.json  # and the numbers as JSON

Needs the [cluster] extra, ffmpeg and PostgreSQL on 127.0.0.1:5432 (user postgres, trust).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import ray

from pipeline import looped_recording  # bench/pipeline.py
from watchkeeper.cluster.local import LocalCluster
from watchkeeper.cluster.runtime import ClusterServices
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP
from watchkeeper.service import Services
from watchkeeper.usecases import cameras as registry
from watchkeeper.usecases.runtime import CameraStatus

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DONE = ("stopped", "finished", "failed")


@contextmanager
def database() -> Iterator[str]:
    name = f"wk_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def context(folder: Path, url: str, clip: Path, cameras: int, fps: float) -> AppContext:
    folder.mkdir(parents=True)
    ctx = AppContext(load_settings(data_dir=folder / "data", database_url=url), actor="bench")
    for index in range(cameras):
        copy = folder / f"camera-{index}.mp4"
        copy.write_bytes(clip.read_bytes())
        registry.add_camera(
            ctx.db, "bench", {"name": f"cam-{index}", "uri": str(copy), "analysis_fps": fps}
        )
    return ctx


def cpu_seconds(pids: Callable[[], list[int]]) -> float:
    """CPU time used so far by this process and the processes ``pids`` names."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def run(
    services: Any,
    statuses: Callable[[], list[CameraStatus]],
    cameras: int,
    timeout: float,
    pids: Callable[[], list[int]] = list,
) -> dict[str, Any]:
    """Start, wait until every camera has read its file, stop; frames, seconds, CPU."""
    started = time.perf_counter()
    services.start()
    ready = time.perf_counter()
    cpu_ready = cpu_seconds(pids)
    first = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = statuses()
        if first is None and any(s.frames_analysed for s in current):
            first = time.perf_counter()
        if len(current) == cameras and all(s.state in DONE for s in current):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"the cameras did not finish within {timeout:g} s")
    finished = time.perf_counter()
    cpu = cpu_seconds(pids) - cpu_ready
    frames = sum(s.frames_analysed for s in current)
    services.stop()
    wall = finished - (first or ready)
    return {
        "frames": frames,
        "cameras": {s.name: (s.state, s.frames_analysed) for s in current},
        "wall_s": round(wall, 2),
        "frames_per_s": round(frames / wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_frame": round(1000 * cpu / frames, 1),
        "startup_s": round(ready - started, 2),
    }


def in_process(folder: Path, clip: Path, cameras: int, fps: float, timeout: float) -> dict:
    with database() as url:
        ctx = context(folder / "local", url, clip, cameras, fps)
        services = Services(ctx)
        try:
            return run(services, services.cameras.statuses, cameras, timeout)
        finally:
            ctx.close()


def on_cluster(
    folder: Path, clip: Path, cameras: int, fps: float, nodes: int, timeout: float
) -> dict:
    os.environ.update(LocalCluster.environment())
    with database() as url, LocalCluster(num_cpus=1, object_store_mb=200) as cluster:
        ctx = context(folder / f"cluster{nodes}", url, clip, cameras, fps)
        cluster.start_head()
        for index in range(nodes):
            cluster.add_node(f"node-{index}", {"camera_node": 1, "inference_node": 1})
        services = ClusterServices(ctx, cluster.address, log_to_driver=False)
        try:
            return run(services, services.cameras.statuses, cameras, timeout, cluster.processes)
        finally:
            ray.shutdown()
            ctx.close()


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "ray": ray.__version__,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--loops", type=int, default=3, help="clip repeats per camera file")
    parser.add_argument("--fps", type=float, default=5.0, help="analysis rate per camera")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="wk-bench-cluster-"))
    clip = looped_recording(CLIP, args.loops, folder / f"clip-x{args.loops}.mp4")
    rows = {
        "in-process": in_process(folder, clip, args.cameras, args.fps, args.timeout),
        "cluster, 1 camera node": on_cluster(folder, clip, args.cameras, args.fps, 1, args.timeout),
        "cluster, 2 camera nodes": on_cluster(
            folder, clip, args.cameras, args.fps, 2, args.timeout
        ),
    }
    base = rows["in-process"]
    for row in rows.values():
        row["overhead_x"] = round(base["frames_per_s"] / row["frames_per_s"], 2)
        row["cpu_overhead_x"] = round(row["cpu_ms_per_frame"] / base["cpu_ms_per_frame"], 2)
    results = {
        "machine": machine(),
        "cameras": args.cameras,
        "analysis_fps": args.fps,
        "clip_loops": args.loops,
        "runs": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("\n".join(f"{k}: {v}" for k, v in results["machine"].items()))
    print(f"{args.cameras} cameras, {args.loops}× the clip each, {args.fps:g} frames/s analysed")
    print(
        f"{'path':<26}{'frames':>7}{'wall s':>8}{'frames/s':>9}{'×':>6}"
        f"{'CPU ms/frame':>13}{'×':>6}{'start s':>8}"
    )
    for name, row in rows.items():
        print(
            f"{name:<26}{row['frames']:>7}{row['wall_s']:>8}{row['frames_per_s']:>9}"
            f"{row['overhead_x']:>6}{row['cpu_ms_per_frame']:>13}{row['cpu_overhead_x']:>6}"
            f"{row['startup_s']:>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
