"""Build the detector and embedder that the config names, bundled or by path, on its runtime.

Like a plugin registry: a ``kind`` maps to a class, and an unknown kind fails with the known
ones listed. A user's own file is inspected (its inputs and outputs) before it is used, so a
recogniser given as a detector is refused with a message instead of failing deep inside.
The runtime (OpenVINO or ONNX Runtime: ``vision.runtime``, and ``vision.detector_runtime``
for the detector) is chosen per call unless the caller passes one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx

from watchkeeper.config import ModelConfig, VisionConfig
from watchkeeper.vision.detector import (
    Detector,
    OnnxDetector,
    ScrfdDetector,
    YuNetDetector,
    check_detector_signature,
)
from watchkeeper.vision.embedder import (
    ArcFaceEmbedder,
    Embedder,
    OnnxEmbedder,
    SFaceEmbedder,
    check_recogniser_signature,
)
from watchkeeper.vision.models import (
    BUNDLED,
    ModelError,
    fold_constant_dequantization,
    make_dims_dynamic,
    parse_model,
    verified_bytes,
)
from watchkeeper.vision.runtime import (
    CompiledModel,
    Runtime,
    select_detector_runtime,
    select_runtime,
)

DETECTORS: dict[str, type[OnnxDetector]] = {"yunet": YuNetDetector, "scrfd": ScrfdDetector}
EMBEDDERS: dict[str, type[OnnxEmbedder]] = {"sface": SFaceEmbedder, "arcface": ArcFaceEmbedder}

# Input shapes that differ from any exporter's fixed choice (1×3×640×640, batch 1): if the
# graph runs at these, its declared sizes were only a label and can be freed.
DETECTOR_PROBE = (1, 3, 96, 128)
EMBEDDER_PROBE = (2, 3, 112, 112)

log = logging.getLogger(__name__)


def _resolve(spec: ModelConfig, registry: dict[str, type]) -> tuple[Path, str | None, str]:
    """The file to load, its expected digest and the name recorded with its results."""
    if spec.kind not in registry:
        raise ModelError(
            f"unknown model kind '{spec.kind}'; known kinds: {', '.join(sorted(registry))}"
        )
    if spec.path is not None:
        return spec.path, spec.sha256, f"{spec.kind}:{spec.path.stem}@{spec.version}"
    if spec.kind not in BUNDLED:
        raise ModelError(
            f"no {spec.kind} model ships with Watchkeeper: set the path of your ONNX file in "
            "the config (vision.detector.path / vision.embedder.path)"
        )
    bundled = BUNDLED[spec.kind]
    return bundled.path(), bundled.sha256, f"{bundled.name}@{spec.version}"


def load_detector(config: VisionConfig, runtime: Runtime | None = None) -> Detector:
    path, digest, name = _resolve(config.detector, DETECTORS)
    model = fold_constant_dequantization(parse_model(verified_bytes(path, digest), path))
    check_detector_signature(model, config.detector.kind, str(path))
    if runtime is None:
        runtime = select_detector_runtime(config)
    compiled = _compile_freed(model, runtime, name, spatial=True, probe=DETECTOR_PROBE)
    return DETECTORS[config.detector.kind](
        compiled,
        max_side=config.detection_max_side,
        score_threshold=config.detection_threshold,
        nms_threshold=config.nms_threshold,
        min_face_size=config.min_face_size,
        name=name,
    )


def load_embedder(config: VisionConfig, runtime: Runtime | None = None) -> Embedder:
    path, digest, name = _resolve(config.embedder, EMBEDDERS)
    model = fold_constant_dequantization(parse_model(verified_bytes(path, digest), path))
    check_recogniser_signature(model, str(path))
    compiled = _compile_freed(
        model, runtime or select_runtime(config), name, spatial=False, probe=EMBEDDER_PROBE
    )
    return EMBEDDERS[config.embedder.kind](compiled, model=name)


def _compile_freed(
    model: onnx.ModelProto,
    runtime: Runtime,
    name: str,
    spatial: bool,
    probe: tuple[int, ...],
) -> CompiledModel:
    """A model compiled with the batch (recognisers) or frame size (detectors) freed if it can.

    Exporters often fix the input at 1×3×640×640 or the batch at 1. Most graphs still run at
    any size, but some hard-code the size in a ``Reshape``; those fail at the first frame. One
    run at a probe shape tells the two apart, and the second kind keeps its declared input
    (the detector then letterboxes frames onto it, the embedder feeds one crop at a time).
    """
    values = [*model.graph.input, *model.graph.output]
    declared = [onnx.TensorShapeProto() for _ in values]
    for shape, value in zip(declared, values, strict=True):
        shape.CopyFrom(value.type.tensor_type.shape)
    try:
        compiled = runtime.compile_onnx(
            make_dims_dynamic(model, batch=not spatial, spatial=spatial), name
        )
        _probe(compiled, probe, batch=not spatial)
    except Exception as exc:  # each runtime raises its own types, at compile or at run
        log.info("%s only runs at its declared input shape (%s); keeping it", name, exc)
        for shape, value in zip(declared, values, strict=True):
            value.type.tensor_type.shape.CopyFrom(shape)
        return runtime.compile_onnx(model, name)
    return compiled


def _probe(compiled: CompiledModel, shape: tuple[int, ...], batch: bool) -> None:
    """Run once at ``shape``; for a batch, also check that it equals the items run alone.

    ONNX Runtime fails on a graph whose ``Reshape`` fixes the batch at 1; OpenVINO may instead
    return one row for the whole batch, which only the comparison catches.
    """
    name = compiled.inputs[0].name
    blob = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    together = compiled.run({name: blob})[0]
    if not batch:
        return
    alone = np.concatenate([compiled.run({name: blob[i : i + 1]})[0] for i in range(len(blob))])
    if together.shape != alone.shape:
        raise ModelError(f"a batch of {len(blob)} gives {together.shape}, not {alone.shape}")
    rows, single = together.reshape(len(blob), -1), alone.reshape(len(blob), -1)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(single, axis=1)
    cosine = (rows * single).sum(axis=1) / np.maximum(norms, 1e-12)
    if cosine.min() < 0.99:  # bf16 differs in the last digits, a wrong row entirely
        raise ModelError(f"a batch of {len(blob)} does not give the rows of its items")
