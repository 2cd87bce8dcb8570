"""SFace ms per face and YuNet ms per frame on each runtime and precision, side by side.

The same real inputs go through every engine in one run, one inference thread each, and
the engines take turns repeat by repeat, so that a neighbour's load on a shared machine
falls on all of them alike; compare the columns as ratios. The engines:

- ``onnxruntime-int8bq``: ONNX Runtime on the file as shipped (block-quantised weights,
  only SFace's unused graph inputs removed) — what ran before dequantisation at load;
- ``onnxruntime-f32``: ONNX Runtime on the weights dequantised once at load;
- ``openvino-f32`` and ``openvino-bf16`` (bf16 only where the CPU has bf16 instructions);
- for YuNet also ``openvino-*-fixed``: OpenVINO compiled for the one canvas size, where the
  product compiles it for any frame size. OpenVINO's CPU kernels for a size known only at
  run time are slower; this column says by how much, for a future per-size compile.

Inputs: frames of the bundled 1080p clip fitted to 1280×736 and 640×384 (what
``detection_max_side`` 1280 and 640 give for 16:9), and the aligned faces found in them.

    .venv/bin/python bench/runtimes.py            # table
    .venv/bin/python bench/runtimes.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import openvino as ov

from pipeline import CLIP, machine, read_frames  # bench/pipeline.py
from watchkeeper.config import VisionConfig
from watchkeeper.vision.align import align_faces
from watchkeeper.vision.detector import Detector
from watchkeeper.vision.embedder import Embedder
from watchkeeper.vision.factory import DETECTORS, EMBEDDERS, load_detector, load_embedder
from watchkeeper.vision.models import (
    BUNDLED,
    drop_unused,
    fold_constant_dequantization,
    make_dims_dynamic,
    parse_model,
    verified_bytes,
)
from watchkeeper.vision.runtime import CompiledModel, select_runtime
from watchkeeper.vision.runtime_onnx import OnnxRuntime
from watchkeeper.vision.runtime_openvino import OpenVinoRuntime, cpu_has_bf16

SIZES = {"1280x736": (1280, 736), "640x384": (640, 384)}
BATCHES = (1, 8)


def _shipped_file(kind: str) -> onnx.ModelProto:
    """The bundled file as shipped (int8bq), less what no node reads."""
    bundled = BUNDLED[kind]
    model = parse_model(verified_bytes(bundled.path(), bundled.sha256), bundled.path())
    drop_unused(model)
    return model


def engines() -> dict[str, VisionConfig | None]:
    """Engine label → vision settings (None: ONNX Runtime on the int8bq file as shipped)."""
    chosen: dict[str, VisionConfig | None] = {
        "onnxruntime-int8bq": None,
        "onnxruntime-f32": _on("onnxruntime", "f32"),
        "openvino-f32": _on("openvino", "f32"),
    }
    if cpu_has_bf16():
        chosen["openvino-bf16"] = _on("openvino", "bf16")
    return chosen


def _on(engine: str, precision: str) -> VisionConfig:
    """One thread on ``engine`` for both models (``auto`` would keep the detector on ONNX
    Runtime in f32, decision 0042, and every column would time the same detector)."""
    return VisionConfig.model_validate(
        {"runtime": engine, "detector_runtime": engine, "precision": precision,
         "intra_op_threads": 1}
    )  # fmt: skip


def _as_shipped(kind: str, probe: tuple[int, ...]) -> CompiledModel | None:
    """The bundled int8bq file on ONNX Runtime as it is, or None (said why) if it cannot run."""
    model = make_dims_dynamic(_shipped_file(kind), batch=kind == "sface", spatial=kind == "yunet")
    try:
        compiled = OnnxRuntime(["cpu"], 1, "f32").compile_onnx(model, f"{kind}-int8bq")
        compiled.run({compiled.inputs[0].name: np.zeros(probe, np.float32)})
    except Exception as exc:  # the engine's own error type; reported, not fatal
        print(f"onnxruntime-int8bq: {kind} does not run as shipped ({exc})", file=sys.stderr)
        return None
    return compiled


def _fixed_detector(precision: str, width: int, height: int) -> Detector:
    """YuNet on OpenVINO compiled for one ``width`` × ``height`` canvas, one thread."""
    bundled = BUNDLED["yunet"]
    model = fold_constant_dequantization(
        parse_model(verified_bytes(bundled.path(), bundled.sha256), bundled.path())
    )
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, (1, 3, height, width), strict=True):
        dim.ClearField("dim_param")
        dim.dim_value = value
    compiled = OpenVinoRuntime(1, precision).compile_onnx(model, f"yunet-{width}x{height}")
    return DETECTORS["yunet"](compiled, max_side=width)


def _interleaved_ms(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median ms of each run, after one warm-up each, taking turns repeat by repeat."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append(1000 * (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in times.items()}


def bench_detectors(frames: Sequence[np.ndarray], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for size, (max_side, height) in SIZES.items():
        detectors: dict[str, Detector] = {}
        for label, config in engines().items():
            if config is None:
                shipped = _as_shipped("yunet", (1, 3, 64, 64))
                if shipped is not None:
                    detectors[label] = DETECTORS["yunet"](shipped, max_side=max_side)
            else:
                detectors[label] = load_detector(
                    config.model_copy(update={"detection_max_side": max_side})
                )
                if config.runtime == "openvino":
                    fixed = _fixed_detector(config.precision, max_side, height)
                    detectors[f"{label}-fixed"] = fixed
        runs = {
            label: (lambda d=detector: [d.detect(frame) for frame in frames])
            for label, detector in detectors.items()
        }
        medians = _interleaved_ms(runs, repeat)
        rows.append(
            {"model": "YuNet", "input": size, "unit": "ms/frame"}
            | {label: round(ms / len(frames), 2) for label, ms in medians.items()}
        )
    return rows


def bench_embedders(crops: np.ndarray, repeat: int) -> list[dict[str, Any]]:
    embedders: dict[str, Embedder] = {}
    for label, config in engines().items():
        if config is None:
            shipped = _as_shipped("sface", (2, 3, 112, 112))
            if shipped is not None:
                embedders[label] = EMBEDDERS["sface"](shipped, model="sface-int8bq")
        else:
            embedders[label] = load_embedder(config)
    rows = []
    for batch in BATCHES:
        chunks = [crops[i : i + batch] for i in range(0, len(crops) - batch + 1, batch)]
        runs = {
            label: (lambda e=embedder, c=chunks: [e.embed(chunk) for chunk in c])
            for label, embedder in embedders.items()
        }
        medians = _interleaved_ms(runs, repeat)
        faces = len(chunks) * batch
        rows.append(
            {"model": "SFace", "input": f"batch {batch}", "unit": "ms/face"}
            | {label: round(ms / faces, 2) for label, ms in medians.items()}
        )
    return rows


def agreement(crops: np.ndarray) -> dict[str, float]:
    """Lowest cosine of each engine's templates with ONNX Runtime f32's, on the same crops."""
    configs = {label: c for label, c in engines().items() if c is not None}
    reference = load_embedder(configs.pop("onnxruntime-f32")).embed(crops)
    lowest = {}
    for label, config in configs.items():
        cosine = (load_embedder(config).embed(crops) * reference).sum(axis=1)
        lowest[label] = round(float(cosine.min()), 5)
    return lowest


def table(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    widths = [max(len(c), *(len(str(r.get(c, "-"))) for r in rows)) for c in columns]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(str(r.get(c, "-")).rjust(w) for c, w in zip(columns, widths, strict=True))
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8, help="clip frames to detect on")
    parser.add_argument("--faces", type=int, default=32, help="aligned faces to embed")
    parser.add_argument("--repeat", type=int, default=5, help="timed turns per engine")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    frames = read_frames(CLIP, args.frames)
    finder = load_detector(VisionConfig(detection_max_side=1920))
    found = np.concatenate([align_faces(f, finder.detect(f).landmarks) for f in frames])
    crops = np.resize(found, (args.faces, *found.shape[1:]))
    info = machine() | {
        "openvino": ov.get_version(),
        "cpu_bf16": cpu_has_bf16(),
        "auto_runtime": select_runtime(VisionConfig()).describe(),
    }
    rows = bench_detectors(frames, args.repeat) + bench_embedders(crops, args.repeat)
    results = {"machine": info, "rows": rows, "lowest_cosine_vs_onnxruntime_f32": agreement(crops)}

    print("\n".join(f"{key}: {value}" for key, value in info.items()))
    print()
    print(table(rows))
    print()
    print("lowest template cosine vs onnxruntime-f32:", results["lowest_cosine_vs_onnxruntime_f32"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
