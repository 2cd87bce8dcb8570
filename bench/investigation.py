"""How fast an investigation searches: recorded video, and the archive of sightings.

1. **Recorded video**: copies of the bundled 1080p 25 frames/s clip re-encoded as a camera
   streams it (no B-frames: ``pipeline.as_a_camera_sends_it``; ``--as-recorded`` keeps the
   phone's encoding), named like a recorder's files, scanned for the clip's subject exactly
   as ``watchkeeper investigate scan`` does (5 sampled frames/s, ``skip_nonref`` decoding,
   screening of closing tracks against the probe, ``investigations.detection_max_side``),
   with one worker process per core. Speed is seconds of video per second of wall clock
   ("× real time"), for the whole command (worker start-up included) and for the steady
   state (from the first analysed frame to the last file's end), plus the CPU time per
   second of video, which does not depend on what else runs on the machine:
   ``cores / cpu_per_video_s`` is the speed the cores would give alone.
2. **Archive search**: ``--archive`` synthetic archived sightings (128-d templates in
   clusters, as faces are) in a real SQLite store, searched for a probe under a case:
   loading the case's share of the archive, building the index and searching it.

    .venv/bin/python bench/investigation.py                  # both, as a table
    .venv/bin/python bench/investigation.py --json
    .venv/bin/python bench/investigation.py --only scan --copies 8 --max-side 640

Record results in docs/performance.md with the machine block this prints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from pipeline import (  # bench/pipeline.py
    as_a_camera_sends_it,
    looped_recording,
    machine,
    passers_by_video,
    read_frames,
    without_faces,
)
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, PROBE_FRAME, probe_photo, read_frame
from watchkeeper.investigations import archive, cases, probes, scan
from watchkeeper.policy import retention
from watchkeeper.store import investigations as case_store
from watchkeeper.store.models import Camera, Sighting
from watchkeeper.store.policy import ArchivedSighting, SightingTemplate

CLIP_SECONDS = 105 / 25
START = datetime(2025, 11, 28, 14, 30, tzinfo=UTC)
MODEL = "bench@1"


def _case(ctx: AppContext, cameras: list[str], groups: list[str]) -> int:
    with ctx.db.session() as s:
        case = cases.open_case(
            s,
            cases.CaseRequest(
                "BENCH-1", "missing_person", "benchmark", START - timedelta(hours=1),
                START + timedelta(hours=1), datetime.now(UTC) + timedelta(days=1), cameras, groups,
            ),
            "user:bench", default_threshold=0.363, max_days=90,
        )  # fmt: skip
        case_id = case.id
    with ctx.db.session() as s:
        cases.approve_case(s, case_id, "user:second", "supervisor")
    return case_id


class _Clock:
    """Times the steady state: first analysed frame to the last file's end."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.frames = 0

    def planned(self, files: list[tuple[int, str, int]]) -> None:
        pass

    def advanced(self, source_id: int, frame: int) -> None:
        self.first = self.first or time.perf_counter()
        self.frames += 1

    def finished(self, report: scan.FileReport) -> None:
        self.last = time.perf_counter()


def bench_scan(
    copies: int,
    workers: int,
    max_side: int,
    fps: float,
    loops: int = 1,
    as_recorded: bool = False,
    scene: str = "crowd",
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = load_settings(
            data_dir=root / "data",
            investigations={"detection_max_side": max_side, "sample_fps": fps},
        )
        ctx = AppContext(settings, actor="user:bench")
        recordings = root / "recordings"
        recordings.mkdir()
        if scene == "corridor":
            empty = without_faces(read_frames(CLIP, 1)[0], ctx.analyzer)
            clip = passers_by_video(empty, 25, loops * CLIP_SECONDS, root / "corridor.mp4")
            what = "an empty scene crossed by three people, one at a time (a key frame every 2 s)"
        elif as_recorded:
            clip, what = CLIP, "the clip as recorded"
        else:  # a recorder stores what its camera streamed: no B-frames, every frame decoded
            clip = as_a_camera_sends_it(CLIP, root / "camera.mp4")
            what = "the clip as a camera sends it"
        cameras = [f"cam{i}" for i in range(copies)]
        for camera in cameras:
            name = recordings / f"{camera}_{START:%Y%m%d-%H%M%S}.mp4"
            if loops > 1 and scene == "crowd":
                looped_recording(clip, loops, name)
            else:
                shutil.copyfile(clip, name)
        case_id = _case(ctx, cameras, [])
        photo, _ = probe_photo(ctx, read_frame(CLIP, PROBE_FRAME))
        probes.add_probes(
            ctx.db, ctx.media, ctx.analyzer, case_id, [("probe", photo)], "user:bench",
            max_pixels=50_000_000, min_quality=0.4,
        )  # fmt: skip
        clock = _Clock()
        before, started = os.times(), time.perf_counter()
        report = scan.run_scan(ctx, scan.ScanRequest(case_id, [recordings], workers=workers), clock)
        wall = time.perf_counter() - started
        after = os.times()
        ctx.close()
    cpu = sum(after[:4]) - sum(before[:4])  # user + system, this process and its workers
    video = copies * loops * CLIP_SECONDS
    steady = clock.last - (clock.first or started)
    return {
        "recordings": what,
        "copies": copies,
        "recording_s": round(loops * CLIP_SECONDS, 1),
        "video_s": round(video, 1),
        "workers": report.workers,
        "max_side": max_side,
        "sample_fps": fps,
        "frames_analysed": clock.frames,
        "candidates": report.candidates,
        "wall_s": round(wall, 2),
        "x_real_time": round(video / wall, 2),
        "steady_x_real_time": round(video / steady, 2) if steady > 0 else None,
        "cpu_s_per_video_s": round(cpu / video, 3),
        "x_real_time_on_idle_cores": round(report.workers * video / cpu, 2),
        "load_average": round(os.getloadavg()[0], 2),
    }


def _archive_store(ctx: AppContext, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` archived sightings of one template each: faces of ``size // 5`` people, so
    about 5 sightings each (cosine ≈ 0.85 within a person, ≈ 0 between people). Person 0 is
    the subject, seen in sightings 1–5. Returns the subject's probe template."""
    dimension = 128
    people = rng.standard_normal((size // 5, dimension)).astype(np.float32)
    owners = rng.integers(1, len(people), size)
    owners[:5] = 0
    vectors = people[owners] + 0.6 * rng.standard_normal((size, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    retention.set_archive(ctx.db, "station", 30, "user:bench", "benchmark")
    expires = datetime.now(UTC) + timedelta(days=30)
    with ctx.db.session() as s:
        s.execute(insert(Camera), [
            {"id": i + 1, "name": f"cam{i}", "uri": f"rtsp://cam{i}", "group": "station",
             "analysis_fps": 5.0, "enabled": True, "created_at": datetime.now(UTC)}
            for i in range(10)
        ])  # fmt: skip
        for chunk in range(0, size, 20_000):
            ids = range(chunk + 1, min(size, chunk + 20_000) + 1)
            s.execute(insert(Sighting), [
                {"id": i, "camera_id": i % 10 + 1, "track_id": i, "first_frame": 0,
                 "last_frame": 10, "detections": 5, "best_frame": 5, "quality": 0.8,
                 "model": MODEL, "crop_sha256": None, "created_at": START,
                 "started_at": START + timedelta(seconds=i % 3000),
                 "ended_at": START + timedelta(seconds=i % 3000 + 2)}
                for i in ids
            ])  # fmt: skip
            s.execute(insert(ArchivedSighting), [
                {"sighting_id": i, "camera_group": "station", "expires_at": expires,
                 "created_at": START} for i in ids
            ])  # fmt: skip
            s.execute(insert(SightingTemplate), [
                {"id": i, "sighting_id": i, "model": MODEL, "dimension": dimension,
                 "vector": vectors[i - 1].astype("<f4").tobytes()} for i in ids
            ])  # fmt: skip
    subject: np.ndarray = people[0] / np.linalg.norm(people[0])
    return subject


def bench_archive(size: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as folder:
        ctx = AppContext(load_settings(data_dir=Path(folder) / "data"), actor="user:bench")
        build_started = time.perf_counter()
        subject = _archive_store(ctx, size, rng)
        build_s = time.perf_counter() - build_started
        case_id = _case(ctx, [], ["station"])
        with ctx.db.session() as s:
            case = case_store.get_case(s, case_id)
            case_store.add_probe(
                s, case, "0" * 64, 100, 100, [0, 0, 1, 1], 0.9, MODEL, subject, "user:bench"
            )
        cold, loads = [], []
        for _ in range(repeat):  # the command line: a fresh index loaded for each search
            started = time.perf_counter()
            found = archive.search_archive(ctx.db, case_id, "user:bench", MODEL)
            cold.append(1000 * (time.perf_counter() - started))
            loads.append(found.load_ms)
        index = archive.ArchiveIndex(MODEL)
        archive.search_archive(ctx.db, case_id, "user:bench", MODEL, index=index)
        warm, scans = [], []
        for _ in range(repeat):  # the API: one index per process, kept in step with the store
            started = time.perf_counter()
            found = archive.search_archive(ctx.db, case_id, "user:bench", MODEL, index=index)
            warm.append(1000 * (time.perf_counter() - started))
            scans.append(found.search_ms)
        with ctx.db.session(readonly=True) as s:
            hits = {c.sighting_id for c in case_store.candidates_of(s, case_id)}
        ctx.close()
    return {
        "sightings": size,
        "searched": found.sightings,
        "store_build_s": round(build_s, 1),
        "hits": found.hits,
        "subject_found": {1, 2, 3, 4, 5} <= hits,
        "index_search_ms": _spread(scans),
        "warm_search_ms": _spread(warm),
        "cold_search_ms": _spread(cold),
        "cold_load_ms": _spread(loads),
    }


def _spread(values: list[float]) -> str:
    """Best and median: the best is the least disturbed by other work on a shared machine."""
    return f"{min(values):.1f} (median {statistics.median(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("scan", "archive"))
    parser.add_argument("--copies", type=int, default=6, help="recordings to scan")
    parser.add_argument(
        "--loops", type=int, default=1,
        help="showings of the clip in each recording (30: 2-minute recordings)",
    )  # fmt: skip
    parser.add_argument(
        "--as-recorded",
        action="store_true",
        help="scan the clip as the phone recorded it (with B-frames, which the scan leaves "
        "undecoded) instead of re-encoded as a camera streams it",
    )
    parser.add_argument(
        "--scene",
        choices=("crowd", "corridor"),
        default="crowd",
        help="crowd: the arcade clip (someone always moves); corridor: an empty scene that "
        "three people cross in turn, as long as --loops showings of the clip",
    )
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    parser.add_argument("--max-side", type=int, default=960, help="detection_max_side")
    parser.add_argument("--fps", type=float, default=5.0, help="sampled frames per second")
    parser.add_argument("--archive", type=int, default=100_000, help="archived sightings")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine()}
    if args.only in (None, "scan"):
        result["scan"] = bench_scan(
            args.copies,
            args.workers or os.cpu_count() or 1,
            args.max_side,
            args.fps,
            args.loops,
            args.as_recorded,
            args.scene,
        )
    if args.only in (None, "archive"):
        result["archive"] = bench_archive(args.archive, args.repeat)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    for section, values in result.items():
        sys.stdout.write(f"{section}\n")
        for key, value in values.items():
            sys.stdout.write(f"  {key:28} {value}\n")


if __name__ == "__main__":
    main()
