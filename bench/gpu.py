"""The models on a GPU, through ONNX Runtime's CUDA provider, against the same models on the CPU.

Prints, and writes with ``--json``:

- the providers onnxruntime lists, those Watchkeeper finds can run, what ``vision.runtime:
  auto`` picks and what a session really runs on;
- agreement with the CPU on the same inputs (the example photos and frames of the clip): the
  lowest template cosine, and every clear face found again at IoU ≥ 0.9;
- YuNet ms per frame (1280×736, 640×384), whole and the model's run alone, and SFace ms per
  face (batch 1, 8, 32), one stream;
- analysed frames/s one GPU sustains (``watchkeeper plan --gpu-throughput``): camera threads
  each detecting 1280-pixel frames of the clip and embedding 0.16 of the faces found (the
  pipeline's measured share) through one shared pair of sessions, as an inference actor
  does, with the process's CPU time per frame beside it;
- the first run of each canvas height the motion gate can send (a frame-wide strip of moving
  regions, 1280 pixels wide, height a multiple of 32): cuDNN picks its convolution
  algorithms per input shape, exhaustively by default, heuristically if asked.

OpenCV reads the clip, so that the script needs only the inference stack.

    python bench/gpu.py                 # on a machine with a GPU and onnxruntime-gpu
    python bench/gpu.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from watchkeeper.config import VisionConfig
from watchkeeper.vision.align import align_faces
from watchkeeper.vision.boxes import iou_matrix
from watchkeeper.vision.detector import Detector
from watchkeeper.vision.factory import DETECTORS, load_detector, load_embedder
from watchkeeper.vision.models import (
    BUNDLED,
    fold_constant_dequantization,
    make_dims_dynamic,
    parse_model,
    verified_bytes,
)
from watchkeeper.vision.runtime import select_runtime
from watchkeeper.vision.runtime_onnx import OnnxSession, available_providers

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"
CLIP = EXAMPLES / "video" / "facenet-pytorch-video.mp4"
GPU = VisionConfig(runtime="onnxruntime", detector_runtime="onnxruntime", providers=["cuda", "cpu"])
CPU = VisionConfig(runtime="onnxruntime", detector_runtime="onnxruntime", providers=["cpu"])
EMBED_SHARE = 0.16  # embeddings per detected face at 5 analysed frames/s (docs/scaling.md)


def clip_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames[:: max(1, len(frames) // 24)]


def providers(gpu: VisionConfig) -> dict[str, Any]:
    session = load_embedder(gpu).compiled.session
    return {
        "onnxruntime": ort.__version__,
        "listed": ort.get_available_providers(),
        "usable": available_providers(["tensorrt", "cuda", "cpu"]),
        "auto_runtime": select_runtime(VisionConfig()).describe(),
        "embedder_session_runs_on": session.get_providers(),
    }


def agreement(gpu: VisionConfig, images: Sequence[np.ndarray]) -> dict[str, Any]:
    """The GPU's faces and templates against the CPU's, on the same images."""
    clear = CPU.detection_threshold + 0.05
    worst_iou, missed, crops = 1.0, 0, []
    cpu_detector, gpu_detector = load_detector(CPU), load_detector(gpu)
    for image in images:
        wanted, found = cpu_detector.detect(image), gpu_detector.detect(image)
        crops.append(align_faces(image, wanted.landmarks))
        # each clear CPU face's best overlap with a GPU face (0 where the GPU found none)
        best = iou_matrix(wanted.boxes[wanted.scores >= clear], found.boxes).max(
            axis=1, initial=0.0
        )
        worst_iou = min(worst_iou, float(best.min(initial=1.0)))
        missed += int((best < 0.9).sum())
    aligned = np.concatenate(crops)
    cosine = (load_embedder(gpu).embed(aligned) * load_embedder(CPU).embed(aligned)).sum(axis=1)
    return {
        "images": len(images),
        "faces": len(aligned),
        "lowest_template_cosine": round(float(cosine.min()), 6),
        "clear_faces_lowest_iou": round(worst_iou, 4),
        "clear_faces_missed": missed,
    }


def _median_ms(run: Callable[[], Any], repeat: int) -> float:
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 3)


def latency(
    gpu: VisionConfig, frames: Sequence[np.ndarray], crops: np.ndarray, repeat: int
) -> list[dict[str, Any]]:
    rows = []
    for max_side, label in ((1280, "1280x736"), (640, "640x384")):
        config = gpu.model_copy(update={"detection_max_side": max_side})
        detector = load_detector(config)
        frame = frames[0]
        feeds = {detector.input_name: detector._normalise(detector._fit(frame)[0])}
        rows.append(
            {
                "model": "YuNet",
                "input": label,
                "ms": _median_ms(lambda d=detector, f=frame: d.detect(f), repeat),
                # the model's run alone; the rest of ms is fitting, normalising and decoding
                "run_ms": _median_ms(lambda d=detector, x=feeds: d.compiled.run(x), repeat),
            }
        )
    embedder = load_embedder(gpu)
    for batch in (1, 8, 32):
        batch_crops = np.resize(crops, (batch, *crops.shape[1:]))
        ms = _median_ms(lambda c=batch_crops: embedder.embed(c), repeat)
        rows.append(
            {
                "model": "SFace",
                "input": f"batch {batch}",
                "ms": ms,
                "ms_per_face": round(ms / batch, 3),
            }
        )
    return rows


def throughput(
    gpu: VisionConfig, frames: Sequence[np.ndarray], threads: int, seconds: float
) -> dict[str, Any]:
    """Analysed frames/s of ``threads`` camera threads sharing one detector and one embedder."""
    detector, embedder = load_detector(gpu), load_embedder(gpu)
    # steady state: every input shape the loop can send has been run once (new_shapes times
    # the first runs)
    crops = align_faces(frames[0], detector.detect(frames[0]).landmarks)
    for batch in range(1, 9):
        embedder.embed(np.resize(crops, (batch, *crops.shape[1:])))
    done = [0] * threads
    stop = threading.Event()

    def camera(index: int) -> None:
        owed = 0.0  # embeddings this camera owes at EMBED_SHARE per face
        while not stop.is_set():
            frame = frames[(index * 7 + done[index]) % len(frames)]
            faces = detector.detect(frame)
            owed += EMBED_SHARE * len(faces)
            if owed >= 1 and len(faces):
                take = min(len(faces), math.floor(owed))
                embedder.embed(align_faces(frame, faces.landmarks[:take]))
                owed -= take
            done[index] += 1

    workers = [threading.Thread(target=camera, args=(i,)) for i in range(threads)]
    cpu_started, started = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    analysed = sum(done)
    return {
        "threads": threads,
        "frames_per_s": round(analysed / wall, 1),
        "cpu_cores_busy": round(cpu / wall, 2),
        "cpu_ms_per_frame": round(1000 * cpu / analysed, 2),
    }


def _strip_detector(algo_search: str) -> Detector:
    """YuNet on CUDA with cuDNN's convolution algorithm search set, any canvas size."""
    bundled = BUNDLED["yunet"]
    model = fold_constant_dequantization(
        parse_model(verified_bytes(bundled.path(), bundled.sha256), bundled.path())
    )
    make_dims_dynamic(model, batch=False, spatial=True)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # as the product's sessions: outputs outgrow declared sizes
    session = ort.InferenceSession(
        model.SerializeToString(),
        options,
        providers=[
            ("CUDAExecutionProvider", {"cudnn_conv_algo_search": algo_search}),
            "CPUExecutionProvider",
        ],
    )
    return DETECTORS["yunet"](OnnxSession(session), max_side=1280)


def new_shapes(frame: np.ndarray) -> list[dict[str, Any]]:
    """First and second run ms at each canvas height, per cuDNN algorithm search."""
    rows = []
    heights = list(range(64, 705, 64))  # from 1920x1080 frames: strips of up to 1056 rows
    for search in ("EXHAUSTIVE", "HEURISTIC"):
        detector = _strip_detector(search)
        detector.detect(frame[:48])  # the session's own first-run set-up is not a new shape
        first, second = [], []
        for height in heights:
            strip = np.ascontiguousarray(frame[: height * 3 // 2])  # scaled by 2/3 to fit 1280
            for times in (first, second):
                started = time.perf_counter()
                detector.detect(strip)
                times.append(1000 * (time.perf_counter() - started))
        steady = _median_ms(lambda d=detector: d.detect(frame), 20)
        rows.append(
            {
                "cudnn_conv_algo_search": search,
                "heights": len(heights),
                "first_run_ms_median": round(statistics.median(first), 1),
                "first_run_ms_max": round(max(first), 1),
                "second_run_ms_median": round(statistics.median(second), 2),
                "full_frame_steady_ms": steady,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--seconds", type=float, default=8.0, help="per throughput run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument(
        "--cudnn-search",
        choices=["heuristic", "exhaustive"],
        default=VisionConfig().cudnn_algorithm_search,
        help="vision.cudnn_algorithm_search for the latency and throughput runs",
    )
    args = parser.parse_args()
    if "CUDAExecutionProvider" not in available_providers(["cuda"]):
        parser.exit(
            2,
            "no CUDA provider runs here: this onnxruntime has none (install onnxruntime-gpu "
            "in its place), or a warning above says what it lacks\n",
        )
    gpu = GPU.model_copy(update={"cudnn_algorithm_search": args.cudnn_search})

    result: dict[str, Any] = {
        "cudnn_algorithm_search": args.cudnn_search,
        "providers": providers(gpu),
    }
    print(json.dumps(result["providers"], indent=1))
    frames = clip_frames(200)
    photos = [cv2.imread(str(p)) for p in sorted((EXAMPLES / "deepface-pairs").glob("*.jpg"))]
    result["agreement"] = agreement(gpu, photos + frames)
    print(json.dumps(result["agreement"]))
    detector = load_detector(CPU)
    crops = np.concatenate([align_faces(f, detector.detect(f).landmarks) for f in frames[:8]])
    result["latency"] = latency(gpu, frames, crops, repeat=50)
    for row in result["latency"]:
        print(json.dumps(row))
    result["throughput"] = [throughput(gpu, frames, n, args.seconds) for n in args.threads]
    for row in result["throughput"]:
        print(json.dumps(row))
    result["new_canvas_heights"] = new_shapes(frames[0])
    for row in result["new_canvas_heights"]:
        print(json.dumps(row))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
