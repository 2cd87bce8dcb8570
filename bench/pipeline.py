"""How much CPU one camera costs: detector per frame, embedder per face, and the whole clip.

Real frames from the bundled 1080p clip (a crowded arcade), resized to the common stream
resolutions; the embedder gets the faces the detector found in them, aligned. Numbers are
wall-clock milliseconds on this machine, after a warm-up run, with the thread counts given.

    .venv/bin/python bench/pipeline.py            # table
    .venv/bin/python bench/pipeline.py --json     # one JSON object

    .venv/bin/python bench/pipeline.py --only end-to-end   # just the clip, at 5 and 25 fps
    .venv/bin/python bench/pipeline.py --only still        # quiet scenes: gating vs decoding

The end-to-end part runs the real pipeline (decode → detect → track → embed the best frames)
over the clip with one inference thread, and reports its speed as a multiple of real time,
both by wall clock and by CPU time (the latter is what "on one core" means when other work
shares the machine). It runs twice: on the clip as recorded, and on the clip re-encoded as a
camera streams it (no B-frames, so every frame is decoded; ``watchkeeper plan`` takes its
decoding cost from that one).

Record results in docs/performance.md together with the machine block this prints.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import onnxruntime as ort

from gil import GilSampler  # bench/gil.py
from watchkeeper.cluster.plan import CAMERA_STREAM
from watchkeeper.config import Settings, VisionConfig
from watchkeeper.enrolment import enrol_person
from watchkeeper.pipeline import CameraPipeline, MotionGatedAnalyzer, motion_gated
from watchkeeper.pipeline.motion import MotionStats
from watchkeeper.pipeline.region import check_roi
from watchkeeper.recognition import Recogniser
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.streams import RewindableSource, open_source
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
    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name") and cpu == (platform.processor() or "unknown"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    # the same model name covers CPUs with and without AVX-512: the speeds depend on it
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
    vector = [f for f in wanted if f in flags]
    return {
        "cpu": cpu,
        "vector_extensions": vector,
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


def decode_cpu_s(video: Path, rate: float, skip_nonref: bool) -> tuple[float, int, int]:
    """CPU seconds to decode ``video`` and hand out its frames at ``rate``; the frames handed
    out, and those decoded (fewer than the video has where unreferenced ones were skipped)."""
    source = open_source(str(video), "bench", rate, skip_nonref=skip_nonref)
    cpu = time.process_time()
    frames = sum(1 for _ in source.frames())
    return time.process_time() - cpu, frames, source.health.frames_in


# How surveillance cameras stream 1080p: H.264 of I- and P-frames only ("B" frames "are less
# common in surveillance cameras", IPVM, "Test: H.264 I vs P Frame Impact", 2013; they would
# delay every picture), a key frame every 1–4 s and 3–4 Mbit/s for a 2 MP scene (Vivotek
# FE9182-H user's manual, "Intra frame period"). cluster/plan.py assumes 4 Mbit/s too.
CAMERA_BITRATE = 4_000_000
CAMERA_KEY_INTERVAL_S = 2.0


def as_a_camera_sends_it(clip: Path, path: Path) -> Path:
    """``clip`` re-encoded the way a camera streams it: no B-frames, so the decoder has no
    frame it may skip, and every source frame costs a decode whatever the analysis rate.

    The bundled clip was recorded by a phone with three B-frames between its P-frames; half
    of its frames are never referenced and are left undecoded (``streams.skip_nonref``), which
    makes its decoding half of what a camera's stream costs.
    """
    with av.open(str(clip)) as source, av.open(str(path), "w") as out:
        video = source.streams.video[0]
        rate = video.average_rate or Fraction(25)
        encoded = out.add_stream("libx264", rate=rate)
        encoded.width, encoded.height = video.codec_context.width, video.codec_context.height
        encoded.pix_fmt = "yuv420p"
        encoded.bit_rate = CAMERA_BITRATE
        encoded.options = {
            "preset": "veryfast",
            "bf": "0",
            "g": str(round(CAMERA_KEY_INTERVAL_S * float(rate))),
        }
        for index, frame in enumerate(source.decode(video)):
            frame.pts, frame.time_base = index, 1 / rate  # the clip's own times, renumbered
            for packet in encoded.encode(frame):
                out.mux(packet)
        for packet in encoded.encode():
            out.mux(packet)
    return path


def looped_recording(clip: Path, loops: int, path: Path) -> Path:
    """``clip`` played ``loops`` times in one file, packets copied (no re-encoding): a long
    recording made of real footage, as an NVR exports them (minutes, not seconds)."""
    with av.open(str(clip)) as first:
        span = first.streams.video[0].duration  # in the stream's time base
    with av.open(str(path), "w") as out:
        copied = None
        for loop in range(loops):
            with av.open(str(clip)) as source:  # muxing consumes packets: demux afresh
                video = source.streams.video[0]
                copied = copied or out.add_stream_from_template(video)
                for packet in source.demux(video):
                    if packet.dts is None:  # the demuxer's empty flush packet
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + loop * span
                    packet.dts = packet.dts + loop * span
                    packet.stream = copied
                    out.mux(packet)
    return path


def clip_duration(video: Path) -> float:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        return float(stream.frames / stream.average_rate)


def one_camera() -> tuple[Settings, FaceAnalyzer, Recogniser]:
    """What one camera's passes share: settings on a scratch data folder with one inference
    thread, the models, and a recogniser screening against the distractor gallery."""
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="wk-bench-")))
    vision = settings.vision.model_copy(update={"intra_op_threads": 1})
    settings = settings.model_copy(update={"vision": vision})
    analyzer = FaceAnalyzer.from_config(vision)
    return settings, analyzer, distractor_gallery(settings, analyzer)


def _clip_pass(
    video: Path,
    rate: float,
    skip_nonref: bool,
    settings: Settings,
    analyzer: Any,
    screen: Any,
    region: tuple[float, ...] | None,
) -> tuple[CameraPipeline, Any, float, float]:
    """One pass of a fresh camera pipeline over the clip: it, its gate, wall and CPU seconds.

    The pipeline is a live camera's, as the service builds it: open tracks are screened early
    (decision 0051), which embeds a crowd's faces 1.6–1.7 times as often as matching at close
    only. Until the eighth session the passes matched at close only, as a recording's scan
    does, and so understated what a live camera costs.
    """
    source = open_source(str(video), "bench", rate, skip_nonref=skip_nonref)
    gated = motion_gated(analyzer, settings.motion, rate, region=region)
    pipeline = CameraPipeline(
        "bench",
        gated,
        settings.tracking,
        settings.vision.min_quality,
        screen,
        early_after=settings.tracking.early_match_after,
        early_looks=settings.tracking.early_match_looks,
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for frame in source.frames():
        pipeline.process(frame)
    pipeline.finish()
    return pipeline, gated, time.perf_counter() - wall, time.process_time() - cpu


def bench_end_to_end(
    videos: dict[str, Path],
    rates: Sequence[float],
    skip_nonref: bool,
    passes: int = 3,
    region: tuple[float, ...] | None = None,
) -> list[dict[str, Any]]:
    """The whole pipeline over each video, one inference thread, at each analysis rate.

    Motion gating is on, as in the service (a crowd clip moves everywhere, so it mostly
    detects whole frames), bounded by the camera's region of interest if ``region`` is
    given; ``decode_cpu_s`` is the same video decoded and sampled alone.

    A camera runs for hours, so its cost is the steady one: the first pass (reported on its
    own, ``first_pass_x_realtime_cpu``) pays one-off costs such as OpenVINO planning its
    kernels for each batch size it has not seen; the figures are the median of ``passes``
    passes after it, each with a fresh pipeline (new tracks, the same models).
    """
    settings, analyzer, recogniser = one_camera()
    rows = []
    for (label, video), rate in itertools.product(videos.items(), rates):
        duration = clip_duration(video)
        decode_s, _, decoded = decode_cpu_s(video, rate, skip_nonref)
        runs = [
            _clip_pass(video, rate, skip_nonref, settings, analyzer, recogniser.screen, region)
            for _ in range(1 + passes)
        ]
        first_cpu = runs[0][3]
        pipeline, gated, wall, cpu = sorted(runs[1:], key=lambda run: run[3])[len(runs[1:]) // 2]
        stats = pipeline.stats
        rows.append(
            {
                "video": label,
                "roi": list(region) if region else None,
                "analysis_fps": rate,
                "frames": stats.frames,
                "faces": stats.faces,
                "sightings": stats.sightings,
                "embedded": stats.embedded,
                "early_sightings": stats.early_sightings,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "x_realtime_wall": round(duration / wall, 2),
                "x_realtime_cpu": round(duration / cpu, 2),
                "first_pass_x_realtime_cpu": round(duration / first_cpu, 2),
                "detect_s": round(stats.detect_s, 3),
                "embed_s": round(stats.embed_s, 3),
                "decode_and_rest_s": round(wall - stats.detect_s - stats.embed_s, 3),
                "decode_cpu_s": round(decode_s, 3),
                "decoded_frames": decoded,
                "source_frames": round(duration * float(stream_rate(video)), 1),
                "whole_frames_detected": gated.stats.whole
                if isinstance(gated, MotionGatedAnalyzer)
                else stats.frames,
                "detected_share": round(gated.stats.detected_share / gated.stats.frames, 3)
                if isinstance(gated, MotionGatedAnalyzer)
                else 1.0,
            }
        )
    return rows


def stream_rate(video: Path) -> float:
    with av.open(str(video)) as container:
        return float(container.streams.video[0].average_rate)


# The naive pass on two sets of engines: the pipeline's own, and ONNX Runtime in f32 for both
# models (what Watchkeeper ran before OpenVINO, with the weights already dequantised).
NAIVE_ENGINES = {
    "the pipeline's engines": {},
    "onnxruntime f32 for both": {"runtime": "onnxruntime", "detector_runtime": "onnxruntime"},
}


def bench_naive(
    video: Path, rate: float, skip_nonref: bool, engines: str, vision_update: dict[str, str]
) -> dict[str, Any]:
    """A naive YuNet + SFace pass over the same analysed frames, decoded beforehand.

    Every face of every analysed frame is detected, aligned and embedded, one frame at a
    time, with no tracking, gating or screening: what a pipeline that knows nothing about
    time costs. ``compared_with_pipeline`` sets it against the pipeline, two ways.
    """
    vision = Settings().vision.model_copy(update={"intra_op_threads": 1, **vision_update})
    analyzer = FaceAnalyzer.from_config(vision)
    frames = [
        f.image for f in open_source(str(video), "bench", rate, skip_nonref=skip_nonref).frames()
    ]
    for _ in range(2):  # the first pass warms up, as the pipeline's does
        cpu = time.process_time()
        faces = 0
        for image in frames:
            analysed = analyzer.analyse(image)
            analyzer.embed(analysed.aligned)
            faces += len(analysed.faces)
        cpu = time.process_time() - cpu
    return {
        "engines": engines,
        "runtime": analyzer.runtime,
        "analysis_fps": rate,
        "frames": len(frames),
        "faces_embedded": faces,
        "cpu_s": round(cpu, 3),
        "ms_per_frame": round(1000 * cpu / len(frames), 2),
    }


def compared_with_pipeline(naive: dict[str, Any], pipeline: dict[str, Any]) -> dict[str, Any]:
    """How many times cheaper the pipeline is per analysed frame than the naive pass, read
    two ways.

    ``x_cheaper_decode_charged``: the pipeline's whole CPU, decoding included, against a
    naive pass that is handed its frames decoded (the strict reading, and the one earlier
    notes quote). ``x_cheaper_analysis_only``: the pipeline's CPU less decoding the same clip
    alone, so that both sides do analysis only (like for like; decoding measured apart, so
    approximate).
    """
    frames = pipeline["frames"]
    whole_ms = 1000 * pipeline["cpu_s"] / frames
    analysis_ms = 1000 * (pipeline["cpu_s"] - pipeline["decode_cpu_s"]) / frames
    return naive | {
        "pipeline_ms_per_frame": round(whole_ms, 2),
        "x_cheaper_decode_charged": round(naive["ms_per_frame"] / whole_ms, 2),
        "pipeline_analysis_ms_per_frame": round(analysis_ms, 2),
        "x_cheaper_analysis_only": round(naive["ms_per_frame"] / analysis_ms, 2),
    }


SENSOR_NOISE_SIGMA = 2.0  # grey levels: the faint per-frame noise of a real camera's sensor
NOISE_FIELDS = 16  # noise fields cycled through (generating one per frame would dominate)


def held_frame_video(
    image: np.ndarray, rate: Any, seconds: float, path: Path, noise: float = 0.0
) -> Path:
    """``image`` held for ``seconds`` at ``rate`` frames/s, as H.264: a still scene.

    With ``noise`` (σ in grey levels) every frame carries fresh-looking sensor noise, as a
    real camera's does; a perfectly held frame decodes unusually cheaply (its P-frames change
    nothing), which flatters any cost measured against decoding.
    """
    rng = np.random.default_rng(0)
    count = NOISE_FIELDS if noise else 0
    fields = [rng.normal(0.0, noise, image.shape).astype(np.float32) for _ in range(count)]
    pictures = (
        (image + fields[index % NOISE_FIELDS]).clip(0, 255).astype(np.uint8) if fields else image
        for index in range(round(seconds * float(rate)))
    )
    return scene_video(pictures, image.shape, rate, path)


def scene_video(pictures: Iterable[np.ndarray], shape: Any, rate: Any, path: Path) -> Path:
    """``pictures`` (BGR, all of ``shape``) encoded as H.264 at ``rate`` frames/s, with a key
    frame every ``KEY_INTERVAL_S`` (x264's default is every 10 s)."""
    with av.open(str(path), "w") as out:
        encoded = out.add_stream("libx264", rate=rate)
        encoded.width, encoded.height = shape[1], shape[0]
        encoded.pix_fmt = "yuv420p"
        encoded.options = {"preset": "ultrafast", "g": str(round(KEY_INTERVAL_S * float(rate)))}
        for picture in pictures:
            for packet in encoded.encode(av.VideoFrame.from_ndarray(picture, format="bgr24")):
                out.mux(packet)
        for packet in encoded.encode():
            out.mux(packet)
    return path


# Real people from the example photos (three identities) who cross the empty scene one after
# another: each walks across in PASS_SECONDS, starting at these fractions of the scene. At 8 s
# a 57-pixel face moves 0.7 face sizes per analysed frame (5 fps); crossing in 4 s it moves 1.4,
# which the tracker follows from the second frame on only since decision 0032.
PASSERS_BY = ("img38.jpg", "img17.jpg", "img24.jpg")
PASS_STARTS = (1 / 12, 5 / 12, 9 / 12)
PASS_SECONDS = 8.0
PHOTO_WIDTH = 320
KEY_INTERVAL_S = 2.0  # the scenes' key-frame interval (within streams.max_key_interval_s)


def passers_by_video(empty: np.ndarray, rate: Any, seconds: float, path: Path) -> Path:
    """The empty scene with a passer-by crossing it now and then: a quiet camera's busy hour.

    A camera in a corridor or at a gate mostly sees nobody; when someone passes, motion
    covers a small part of the picture, which is the gate's region path (detect where it
    moved) rather than its skip path (a still scene) or its whole-frame path (a crowd).
    """
    photos = []
    for name in PASSERS_BY:
        photo = cv2.imread(str(DEEPFACE / name))
        height = round(PHOTO_WIDTH * photo.shape[0] / photo.shape[1])
        photos.append(cv2.resize(photo, (PHOTO_WIDTH, height)))
    total = round(seconds * float(rate))
    travel = empty.shape[1] - PHOTO_WIDTH

    def picture(index: int) -> np.ndarray:
        t = index / float(rate)
        for photo, start in zip(photos, PASS_STARTS, strict=True):
            walked = (t - start * seconds) / PASS_SECONDS
            if 0 <= walked < 1:
                frame = empty.copy()
                x, y = round(walked * travel), empty.shape[0] - photo.shape[0] - 60
                frame[y : y + photo.shape[0], x : x + PHOTO_WIDTH] = photo
                return frame
        return empty

    return scene_video((picture(i) for i in range(total)), empty.shape, rate, path)


def without_faces(image: np.ndarray, analyzer: FaceAnalyzer) -> np.ndarray:
    """The scene with every face blurred beyond recognition: an empty scene."""
    empty = image.copy()
    for x1, y1, x2, y2 in analyzer.analyse(image).faces.boxes.astype(int):
        pad = (x2 - x1) // 2
        x1, y1, x2, y2 = max(0, x1 - pad), max(0, y1 - pad), x2 + pad, y2 + pad
        empty[y1:y2, x1:x2] = cv2.blur(empty[y1:y2, x1:x2], (61, 61))
    if len(analyzer.analyse(empty).faces):
        raise RuntimeError("faces are still found in the emptied scene")
    return empty


def bench_still_scene(
    video: Path, seconds: float, rate: float, skip_nonref: bool
) -> list[dict[str, Any]]:
    """Cores per camera on still scenes: decoding alone, and the pipeline gated and not.

    Four scenes: the clip's first frame held (ten people who stand still: their tracks close
    every ``tracking.max_track_seconds`` and are embedded again), the same frame with the
    faces blurred away (an empty scene), that empty scene with a real sensor's faint noise
    on every frame (what a camera on an empty hall sends; the gate must not take it for
    motion), and the empty scene crossed by three passers-by, one at a time.
    """
    settings = Settings()
    vision = settings.vision.model_copy(update={"intra_op_threads": 1})
    analyzer = FaceAnalyzer.from_config(vision)
    first = read_frames(video, 1)[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="wk-still-") as folder:
        empty = without_faces(first, analyzer)
        scenes = {
            "people standing still": (first, 0.0),
            "empty": (empty, 0.0),
            "empty, sensor noise": (empty, SENSOR_NOISE_SIGMA),
        }
        source_rate = round(stream_rate(video))
        for name, (image, noise) in scenes.items():
            path = Path(folder) / "still.mp4"
            still = held_frame_video(image, source_rate, seconds, path, noise)
            rows.append(_still_row(name, still, rate, skip_nonref, analyzer, settings))
        path = passers_by_video(empty, source_rate, seconds, Path(folder) / "passers-by.mp4")
        rows.append(_still_row("empty, passers-by", path, rate, skip_nonref, analyzer, settings))
    return rows


def _still_row(
    name: str,
    still: Path,
    rate: float,
    skip_nonref: bool,
    analyzer: FaceAnalyzer,
    settings: Settings,
    passes: int = 3,
) -> dict[str, Any]:
    """One still scene: ungated once, gated ``passes`` times with the camera kept awake and
    ``passes`` times letting it rest on key frames (``motion.sleep_after_s``); the median
    pass of each reported.

    Within each gated pass the CPU spent decoding and the CPU spent analysing are told apart
    (the analysis is timed around each frame handed to the pipeline), so "gated ÷ decoding"
    compares the two halves of the same pass instead of two runs that machine noise moves by
    ±10 %.
    """
    duration, source_rate = clip_duration(still), stream_rate(still)
    decode_s, frames, _ = decode_cpu_s(still, rate, skip_nonref)
    row: dict[str, Any] = {
        "scene": name,
        "seconds": round(duration, 1),
        "analysed_frames": frames,
        "decode_alone_cores": round(decode_s / duration, 4),
    }
    awake = settings.model_copy(
        update={"motion": settings.motion.model_copy(update={"sleep_after_s": 0.0})}
    )
    ungated, _ = _still_pass(still, rate, skip_nonref, analyzer, awake, gating=False)
    row["ungated_cores"] = round((ungated["decode_s"] + ungated["analysis_s"]) / duration, 4)
    median, gate = _median_pass(still, rate, skip_nonref, analyzer, awake, passes)
    decode, analysis = median["decode_s"], median["analysis_s"]
    resting, _ = _median_pass(still, rate, skip_nonref, analyzer, settings, passes)
    row.update(
        {
            "decode_cores": round(decode / duration, 4),
            "gated_cores": round((decode + analysis) / duration, 4),
            "whole_frames_detected": gate.whole,
            "region_frames": gate.regions,
            "skipped_frames": gate.skipped,
            "embedded": median["embedded"],
            "sightings": median["sightings"],
            "sightings_ungated": ungated["sightings"],
            "gated_over_decode": round((decode + analysis) / decode, 3),
            "gated_over_decode_range": median["range"],
            "ungated_over_decode": round(row["ungated_cores"] / (decode / duration), 3),
            # beyond decoding, per analysed frame: motion mask, scene-cut thumbnail, tracker,
            # the whole frames detected and any embeddings
            "quiet_ms": round(1000 * analysis / frames, 3),
            # resting on key frames while still: everything over decoding every frame
            "resting_cores": round((resting["decode_s"] + resting["analysis_s"]) / duration, 4),
            "resting_over_decode": round((resting["decode_s"] + resting["analysis_s"]) / decode, 3),
            "resting_decode_share": round(resting["decode_s"] / decode, 3),
            "resting_quiet_ms": round(1000 * resting["analysis_s"] / frames, 3),
            "resting_frames_decoded": resting["decoded"],
            "frames_decoded": median["decoded"],
            "resting_sightings": resting["sightings"],
            "resting_first_seen_later_s": [
                round((late - early) / source_rate, 2)
                for early, late in zip(
                    median["first_frames"], resting["first_frames"], strict=False
                )
            ],
        }
    )
    return row


def _median_pass(
    still: Path,
    rate: float,
    skip_nonref: bool,
    analyzer: FaceAnalyzer,
    settings: Settings,
    passes: int,
) -> tuple[dict[str, Any], MotionStats]:
    """The median of ``passes`` gated passes by analysis ÷ decoding, and that ratio's range."""
    runs = [
        _still_pass(still, rate, skip_nonref, analyzer, settings, gating=True)
        for _ in range(passes)
    ]
    runs.sort(key=lambda run: run[0]["analysis_s"] / run[0]["decode_s"])
    median, gate = runs[len(runs) // 2]
    median["range"] = [
        round(1 + run["analysis_s"] / run["decode_s"], 3) for run, _ in (runs[0], runs[-1])
    ]
    return median, gate


def _still_pass(
    still: Path,
    rate: float,
    skip_nonref: bool,
    analyzer: FaceAnalyzer,
    settings: Settings,
    gating: bool,
    region: tuple[float, ...] | None = None,
) -> tuple[dict[str, Any], MotionStats]:
    """One pass over the still scene: CPU seconds decoding and analysing, and the gate's stats.

    The source is told after each frame whether the camera rests, and goes back to the key
    frame before when a key frame read at rest shows a change, as the camera worker does.
    """
    analysis = motion_gated(analyzer, settings.motion, rate, gating, region)
    pipeline = CameraPipeline("still", analysis, settings.tracking, settings.vision.min_quality)
    source = open_source(str(still), "still", rate, skip_nonref=skip_nonref)
    assert isinstance(source, RewindableSource)
    analysing = 0.0
    first_frames = []
    total = time.process_time()
    for frame in source.frames():
        started = time.process_time()
        if pipeline.woken_by(frame.image) and source.rewind():
            analysing += time.process_time() - started
            continue
        first_frames += [s.first_frame for s in pipeline.process(frame)]
        source.key_frames_only(pipeline.resting)
        analysing += time.process_time() - started
    started = time.process_time()
    first_frames += [s.first_frame for s in pipeline.finish()]
    analysing += time.process_time() - started
    total = time.process_time() - total
    stats = analysis.stats if isinstance(analysis, MotionGatedAnalyzer) else MotionStats()
    timings = {"decode_s": total - analysing, "analysis_s": analysing}
    return {
        **timings,
        "embedded": pipeline.stats.embedded,
        "sightings": pipeline.stats.sightings,
        "first_frames": sorted(first_frames),
        "decoded": source.health.frames_in,
    }, stats


# A screen high on the wall of the 1080p scene (rows, columns), and a region of interest below
# it: where the people a camera at a gate is there for walk.
SCREEN = (slice(60, 300), slice(120, 560))
BELOW_THE_SCREEN = (0.0, 0.4, 1.0, 1.0)


def screen_video(empty: np.ndarray, rate: Any, seconds: float, path: Path) -> Path:
    """The empty scene with a screen on its wall showing a new picture every frame."""

    def picture(index: int) -> np.ndarray:
        frame = empty.copy()
        frame[SCREEN] = (37 * index) % 256
        return frame

    total = round(seconds * float(rate))
    return scene_video((picture(i) for i in range(total)), empty.shape, rate, path)


def bench_region(
    video: Path, seconds: float, rate: float, skip_nonref: bool, passes: int = 3
) -> dict[str, Any]:
    """What a camera's region of interest saves: on a scene that never stops moving outside
    it (a screen above an empty floor), the camera without and with a region below the
    screen (median of ``passes`` passes each, letting it rest as the service does); and on
    the crowd clip's analysed frames, detecting the whole frame against the region's band
    of rows (the fastest of ``passes`` turns)."""
    settings = Settings()
    vision = settings.vision.model_copy(update={"intra_op_threads": 1})
    analyzer = FaceAnalyzer.from_config(vision)
    rows = []
    with tempfile.TemporaryDirectory(prefix="wk-region-") as folder:
        empty = without_faces(read_frames(video, 1)[0], analyzer)
        screen = screen_video(empty, round(stream_rate(video)), seconds, Path(folder) / "s.mp4")
        duration = clip_duration(screen)
        for region in (None, BELOW_THE_SCREEN):
            runs = [
                _still_pass(screen, rate, skip_nonref, analyzer, settings, True, region)
                for _ in range(passes)
            ]
            run, gate = sorted(runs, key=lambda r: r[0]["decode_s"] + r[0]["analysis_s"])[
                len(runs) // 2
            ]
            rows.append(
                {
                    "scene": "a screen playing above an empty floor",
                    "roi": list(region) if region else None,
                    "cores": round((run["decode_s"] + run["analysis_s"]) / duration, 4),
                    "frames_decoded": run["decoded"],
                    "whole_frames_detected": gate.whole,
                    "region_frames": gate.regions,
                    "skipped_frames": gate.skipped,
                }
            )
    frames = read_frames(video, int(clip_duration(video) * rate))
    detect_ms = {}
    for name, region in (("whole frame", None), ("the region's rows", BELOW_THE_SCREEN)):
        turns = []
        for _ in range(passes):
            started = time.process_time()
            for image in frames:  # a new camera's first frame is always detected whole
                MotionGatedAnalyzer(analyzer, settings.motion, rate, region).analyse(image)
            turns.append(1000 * (time.process_time() - started) / len(frames))
        detect_ms[name] = round(min(turns), 1)
    return {"scenes": rows, "crowd_clip_detect_ms_per_frame": detect_ms}


def bench_gil(video: Path, seconds: float, skip_nonref: bool) -> dict[str, Any]:
    """How long one camera's pipeline holds the GIL per analysed frame (one thread, 5 fps).

    Fresh pipelines over ``video`` pass after pass for ``seconds``, sampled by py-spy
    (bench/gil.py): the GIL's share of the wall time, and per analysed frame the GIL and CPU
    milliseconds. A camera in the service holds it longer (other threads take it from it
    mid-work: ``bench/streams.py --gil`` measures that), never shorter.
    """
    settings, analyzer, recogniser = one_camera()
    rate = 5.0
    _clip_pass(video, rate, skip_nonref, settings, analyzer, recogniser.screen, None)  # warm
    frames, cpu = 0, 0.0
    with GilSampler(seconds) as sampler:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            pipeline, _, _, spent = _clip_pass(
                video, rate, skip_nonref, settings, analyzer, recogniser.screen, None
            )
            frames, cpu = frames + pipeline.stats.frames, cpu + spent
        wall = time.perf_counter() - started
    gil = sampler.result
    gil_s = gil.held * wall  # the share sampled over the window, held through the passes
    return {
        "video": video.name,
        "analysis_fps": rate,
        "frames": frames,
        "wall_s": round(wall, 1),
        "cpu_ms_per_frame": round(1000 * cpu / frames, 2),
        "gil_held": gil.held,
        "gil_ms_per_frame": round(1000 * gil_s / frames, 2),
        "gil_share_of_cpu": round(gil_s / cpu, 4),
        "holders": gil.holders,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=CLIP, help="clip to take frames from")
    parser.add_argument("--frames", type=int, default=10, help="frames per resolution")
    parser.add_argument("--faces", type=int, default=64, help="aligned faces for the embedder")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per case")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        choices=("vision", "end-to-end", "still", "region", "gil"),
        help="run one part of the benchmark (gil: only when asked; it needs py-spy)",
    )
    parser.add_argument(
        "--gil-seconds", type=float, default=30.0, help="--only gil: how long to sample"
    )
    parser.add_argument(
        "--still-seconds", type=float, default=60.0, help="length of the still scene (seconds)"
    )
    parser.add_argument(
        "--decode-all",
        action="store_true",
        help="decode every frame (default: skip non-reference frames, as the settings do)",
    )
    parser.add_argument(
        "--roi", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"),
        help="end to end: the camera's region of interest, in fractions of the picture (the "
        "costs then are a camera's with that region, not for `watchkeeper plan`)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    results: dict[str, Any] = {"machine": machine()}
    if args.only in (None, "end-to-end"):
        camera = as_a_camera_sends_it(
            args.video, Path(tempfile.mkdtemp(prefix="wk-bench-")) / "camera.mp4"
        )
        results["end_to_end"] = bench_end_to_end(
            {"as recorded": args.video, CAMERA_STREAM: camera},
            (5.0, 25.0),
            not args.decode_all,
            region=check_roi(args.roi),
        )
        results["naive"] = [
            compared_with_pipeline(
                bench_naive(args.video, 5.0, not args.decode_all, name, update),
                results["end_to_end"][0],
            )
            for name, update in NAIVE_ENGINES.items()
            if args.roi is None  # a naive pass looks at the whole picture
        ]
        results["peak_rss_mib_after_end_to_end"] = peak_rss_mib()
    if args.only in (None, "still"):
        results["still_scene"] = bench_still_scene(
            args.video, args.still_seconds, 5.0, not args.decode_all
        )
    if args.only in (None, "region"):
        results["region"] = bench_region(args.video, args.still_seconds, 5.0, not args.decode_all)
    if args.only == "gil":
        camera = as_a_camera_sends_it(
            args.video, Path(tempfile.mkdtemp(prefix="wk-bench-")) / "camera.mp4"
        )
        results["gil"] = bench_gil(camera, args.gil_seconds, not args.decode_all)
    if args.only in (None, "vision"):
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
        print(
            _table("naive YuNet + SFace on every face, frames decoded beforehand", results["naive"])
        )
        print()
    if "still_scene" in results:
        print(_table("quiet scenes, cores per camera", results["still_scene"]))
    if "region" in results:
        print(_table("a region of interest", results["region"]["scenes"]))
        print(f"crowd clip, ms per frame: {results['region']['crowd_clip_detect_ms_per_frame']}")
        print()
    if "gil" in results:
        gil = dict(results["gil"])
        holders = gil.pop("holders")
        print(_table("the GIL, one camera on one thread", [gil]))
        print("\n".join(f"  {share:6.2%} of the time  {frame}" for frame, share in holders))
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
