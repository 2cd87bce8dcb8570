"""How much CPU one camera costs: detector per frame, embedder per face, and the whole clip.

Real frames from the bundled 1080p clip (a crowded arcade), resized to the common stream
resolutions; the embedder gets the faces the detector found in them, aligned. Numbers are
wall-clock milliseconds on this machine, after a warm-up run, with the thread counts given.

    .venv/bin/python bench/pipeline.py            # table
    .venv/bin/python bench/pipeline.py --json     # one JSON object

    .venv/bin/python bench/pipeline.py --only end-to-end   # just the clip, at 5 and 25 fps

The end-to-end part runs the real pipeline (decode → detect → track → embed the best frames)
over the clip with one inference thread, and reports its speed as a multiple of real time,
both by wall clock and by CPU time (the latter is what "on one core" means when other work
shares the machine).

Record results in docs/performance.md together with the machine block this prints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import onnxruntime as ort

from watchkeeper.config import Settings, VisionConfig
from watchkeeper.enrolment import enrol_person
from watchkeeper.pipeline import CameraPipeline
from watchkeeper.recognition import Recogniser
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.streams import open_source
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.align import align_faces
from watchkeeper.vision.factory import load_detector, load_embedder

EXAMPLES = Path(__file__).parents[1] / "examples" / "data"
CLIP = EXAMPLES / "video" / "facenet-pytorch-video.mp4"
DEEPFACE = EXAMPLES / "deepface-pairs"
RESOLUTIONS = ((640, 360), (1280, 720), (1920, 1080))
BATCHES = (1, 8, 32)
THREADS = (1, 2)
# Large enough that no resolution above is scaled down before detection.
FULL_SIZE_MAX_SIDE = max(width for width, _ in RESOLUTIONS)


def read_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` BGR frames spread evenly over the clip (only those are kept in memory)."""
    with av.open(str(path)) as container:
        total = container.streams.video[0].frames or count
        step = max(1, total // count)
        frames = [
            frame.to_ndarray(format="bgr24")
            for index, frame in enumerate(container.decode(video=0))
            if index % step == 0
        ]
    return frames[:count]


def _timed_ms(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and best of ``repeat`` timed runs, in ms, after one warm-up run.

    The best run is the one least disturbed by other processes on a shared machine; the
    median is what a busy machine gives.
    """
    run()  # first-run allocations and provider set-up are not the steady state
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times), min(times)


def bench_detector(
    frames: Sequence[np.ndarray],
    resolutions: Sequence[tuple[int, int]] = RESOLUTIONS,
    threads: Sequence[int] = THREADS,
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Milliseconds per frame for ``detect`` (resize, inference, decoding, NMS).

    Each resolution is run at its own size (max side raised above it), then the default
    config once on full-size frames, since its ``detection_max_side`` caps what 1080p costs.
    """
    rows = []
    cases = [(size, FULL_SIZE_MAX_SIDE) for size in resolutions]
    cases.append((max(resolutions), VisionConfig().detection_max_side))
    for count in threads:
        for (width, height), max_side in cases:
            config = VisionConfig(intra_op_threads=count, detection_max_side=max_side)
            detector = load_detector(config)
            resized = [
                cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA)
                if f.shape[:2] != (height, width)
                else f
                for f in frames
            ]
            faces = [len(detector.detect(f)) for f in resized]
            median, best = _timed_ms(lambda d=detector, r=resized: [d.detect(f) for f in r], repeat)
            rows.append(
                {
                    "resolution": f"{width}x{height}",
                    "max_side": max_side,
                    "threads": count,
                    "ms_per_frame": round(median / len(resized), 2),
                    "best_ms_per_frame": round(best / len(resized), 2),
                    "faces_per_frame": round(statistics.mean(faces), 1),
                }
            )
    return rows


def collect_crops(frames: Sequence[np.ndarray], wanted: int) -> np.ndarray:
    """Aligned crops of the faces in ``frames``, repeated up to ``wanted`` if there are fewer."""
    detector = load_detector(VisionConfig(detection_max_side=FULL_SIZE_MAX_SIDE))
    crops = [align_faces(f, detector.detect(f).landmarks) for f in frames]
    found = np.concatenate(crops)
    if not len(found):
        raise RuntimeError("no faces found in the benchmark frames")
    return np.resize(found, (max(wanted, len(found)), *found.shape[1:]))[:wanted]


def bench_embedder(
    crops: np.ndarray,
    batches: Sequence[int] = BATCHES,
    threads: Sequence[int] = THREADS,
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Milliseconds per face for ``embed`` at each batch size and thread count."""
    rows = []
    for count in threads:
        embedder = load_embedder(VisionConfig(intra_op_threads=count))
        for batch in batches:
            chunks = [crops[i : i + batch] for i in range(0, len(crops) - batch + 1, batch)]
            median, best = _timed_ms(lambda e=embedder, c=chunks: [e.embed(x) for x in c], repeat)
            faces = len(chunks) * batch
            rows.append(
                {
                    "batch": batch,
                    "threads": count,
                    "ms_per_face": round(median / faces, 2),
                    "best_ms_per_face": round(best / faces, 2),
                    "faces_per_s": round(1000 * faces / median, 1),
                }
            )
    return rows


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    lines = [title, "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(str(r[c]).rjust(w) for c, w in zip(columns, widths, strict=True)) for r in rows
    ]
    return "\n".join(lines)


def distractor_gallery(settings: Settings, analyzer: FaceAnalyzer) -> Recogniser:
    """A gallery of the 60-odd deepface photos, so screening works as in operation."""
    db = Database(settings.database)
    db.migrate()
    media = MediaStore(settings.data_dir / "media")
    with db.session() as session:
        repository.create_watchlist(session, "distractors", "other", "bench", "bench")
    for photo in sorted(DEEPFACE.glob("*.jpg")):
        enrol_person(
            db, media, analyzer, watchlist="distractors", name=photo.stem,
            photos=[(photo.name, photo.read_bytes())], actor="bench", largest_face=True,
            max_pixels=settings.streams.max_image_pixels, min_quality=0.3,
        )  # fmt: skip
    return Recogniser(db, settings.matching, analyzer.model, analyzer.embedder.dimension)


def bench_end_to_end(
    video: Path, rates: Sequence[float], skip_nonref: bool
) -> list[dict[str, Any]]:
    """The whole pipeline over the clip, one inference thread, at each analysis rate."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="wk-bench-")))
    vision = settings.vision.model_copy(update={"intra_op_threads": 1})
    analyzer = FaceAnalyzer.from_config(vision)
    recogniser = distractor_gallery(settings, analyzer)
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        duration = float(stream.frames / stream.average_rate)
    rows = []
    for rate in rates:
        source = open_source(str(video), "bench", rate, skip_nonref=skip_nonref)
        pipeline = CameraPipeline(
            "bench", analyzer, settings.tracking, vision.min_quality, recogniser.screen
        )
        wall, cpu = time.perf_counter(), time.process_time()
        for frame in source.frames():
            pipeline.process(frame)
        pipeline.finish()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = pipeline.stats
        rows.append(
            {
                "analysis_fps": rate,
                "frames": stats.frames,
                "faces": stats.faces,
                "sightings": stats.sightings,
                "embedded": stats.embedded,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "x_realtime_wall": round(duration / wall, 2),
                "x_realtime_cpu": round(duration / cpu, 2),
                "detect_s": round(stats.detect_s, 3),
                "embed_s": round(stats.embed_s, 3),
                "decode_and_rest_s": round(wall - stats.detect_s - stats.embed_s, 3),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=CLIP, help="clip to take frames from")
    parser.add_argument("--frames", type=int, default=10, help="frames per resolution")
    parser.add_argument("--faces", type=int, default=64, help="aligned faces for the embedder")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per case")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only", choices=("vision", "end-to-end"), help="run one half of the benchmark"
    )
    parser.add_argument(
        "--decode-all",
        action="store_true",
        help="decode every frame (default: skip non-reference frames, as the settings do)",
    )
    args = parser.parse_args(argv)

    results: dict[str, Any] = {"machine": machine()}
    if args.only != "vision":
        results["end_to_end"] = bench_end_to_end(args.video, (5.0, 25.0), not args.decode_all)
        results["peak_rss_mib_after_end_to_end"] = peak_rss_mib()
    if args.only != "end-to-end":
        frames = read_frames(args.video, args.frames)
        results["frames"] = len(frames)
        results["detector"] = bench_detector(frames, repeat=args.repeat)
        results["peak_rss_mib_after_detector"] = peak_rss_mib()
        results["embedder"] = bench_embedder(collect_crops(frames, args.faces), repeat=args.repeat)
    results["peak_rss_mib"] = peak_rss_mib()
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
        return 0
    print("\n".join(f"{key}: {value}" for key, value in results["machine"].items()))
    print()
    if "end_to_end" in results:
        print(_table("end to end on the clip (one inference thread)", results["end_to_end"]))
        print()
    if "detector" in results:
        print(_table("detector (YuNet) per frame", results["detector"]))
        print()
        print(_table("embedder (SFace) per face", results["embedder"]))
        print()
    print(f"peak RSS: {results['peak_rss_mib']} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
