"""Build the detector and embedder that the config names, bundled or by path.

Like a plugin registry: a ``kind`` maps to a class, and an unknown kind fails with the known
ones listed. A user's own file is inspected (its inputs and outputs) before it is used, so a
recogniser given as a detector is refused with a message instead of failing deep inside.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

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
    open_session,
    parse_model,
    verified_bytes,
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


def load_detector(config: VisionConfig) -> Detector:
    path, digest, name = _resolve(config.detector, DETECTORS)
    model = fold_constant_dequantization(parse_model(verified_bytes(path, digest), path))
    check_detector_signature(model, config.detector.kind, str(path))
    session = _open_freed(model, config, name, spatial=True, probe=DETECTOR_PROBE)
    return DETECTORS[config.detector.kind](
        session,
        max_side=config.detection_max_side,
        score_threshold=config.detection_threshold,
        nms_threshold=config.nms_threshold,
        min_face_size=config.min_face_size,
        name=name,
    )


def load_embedder(config: VisionConfig) -> Embedder:
    path, digest, name = _resolve(config.embedder, EMBEDDERS)
    model = fold_constant_dequantization(parse_model(verified_bytes(path, digest), path))
    check_recogniser_signature(model, str(path))
    session = _open_freed(model, config, name, spatial=False, probe=EMBEDDER_PROBE)
    return EMBEDDERS[config.embedder.kind](session, model=name)


def _open_freed(
    model: onnx.ModelProto,
    config: VisionConfig,
    name: str,
    spatial: bool,
    probe: tuple[int, ...],
) -> ort.InferenceSession:
    """A session with the batch (recognisers) or frame size (detectors) freed, where possible.

    Exporters often fix the input at 1×3×640×640 or the batch at 1. Most graphs still run at
    any size, but some hard-code the size in a ``Reshape``; those fail at the first frame. One
    run at a probe shape tells the two apart, and the second kind keeps its declared input
    (the detector then letterboxes frames onto it, the embedder feeds one crop at a time).
    """
    providers: list[str] = list(config.providers)
    threads = config.intra_op_threads
    values = [*model.graph.input, *model.graph.output]
    declared = [onnx.TensorShapeProto() for _ in values]
    for shape, value in zip(declared, values, strict=True):
        shape.CopyFrom(value.type.tensor_type.shape)
    session = open_session(
        make_dims_dynamic(model, batch=not spatial, spatial=spatial), providers, threads, name
    )
    try:
        session.run(None, {session.get_inputs()[0].name: np.zeros(probe, np.float32)})
    except Exception as exc:  # onnxruntime raises its own Fail/RuntimeException types
        log.info("%s only runs at its declared input shape (%s); keeping it", name, exc)
        for shape, value in zip(declared, values, strict=True):
            value.type.tensor_type.shape.CopyFrom(shape)
        return open_session(model, providers, threads, name)
    return session
