"""Build the detector and embedder that the config names, bundled or by path.

Like a plugin registry: a ``kind`` maps to a class, and an unknown kind fails with the known
ones listed. A user's own file is inspected (its inputs and outputs) before it is used, so a
recogniser given as a detector is refused with a message instead of failing deep inside.
"""

from __future__ import annotations

from pathlib import Path

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
    model = make_dims_dynamic(model, batch=False, spatial=True)
    session = open_session(model, list(config.providers), config.intra_op_threads, name)
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
    model = make_dims_dynamic(model, batch=True, spatial=False)
    session = open_session(model, list(config.providers), config.intra_op_threads, name)
    return EMBEDDERS[config.embedder.kind](session, model=name)
