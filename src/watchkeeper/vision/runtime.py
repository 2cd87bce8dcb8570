"""Inference runtimes: load a model once, then run it with named numpy inputs.

Two engines run our models: OpenVINO (the recogniser's default on x86 CPUs: about twice as
fast as ONNX Runtime on the same weights, and faster again in bf16 where the CPU has bf16
instructions) and ONNX Runtime (the face detector's default on CPUs, decision 0042; CUDA and
TensorRT; the fallback everywhere else). Detectors, embedders and the crowd's person detector
only see the two small protocols below, so a model never knows which engine runs it and adding
an engine never touches them.

Use::

    runtime = select_runtime(settings.vision)            # the engine the config asks for
    model = load_model(path, sha256, runtime, "persons")  # checked, read, compiled once
    boxes, scores = model.run({"image_tensor": batch}, ["detection_boxes", "detection_scores"])

``load_model`` reads ONNX files through either engine (block-quantised weights are
dequantised in memory first) and TensorFlow frozen graphs (``.pb``) through OpenVINO.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import onnx

from watchkeeper.config import VisionConfig
from watchkeeper.vision.models import (
    ModelError,
    fold_constant_dequantization,
    parse_model,
    verified_bytes,
)

log = logging.getLogger(__name__)

Precision = Literal["f32", "bf16"]
X86_MACHINES = {"x86_64", "amd64", "i686", "x86"}


@dataclass(frozen=True, slots=True)
class Port:
    """One input or output of a compiled model; a dimension the model leaves open is "?"."""

    name: str
    shape: tuple[int | str, ...]


class CompiledModel(Protocol):
    """A model ready to run. Safe to call from several threads at once."""

    @property
    def inputs(self) -> list[Port]: ...

    @property
    def outputs(self) -> list[Port]: ...

    def run(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        """The named outputs (all of them, in ``outputs`` order, if None) for these inputs."""
        ...


class PortedModel:
    """What both engines' compiled models share: their ports, read once at compile time."""

    def __init__(self, inputs: list[Port], outputs: list[Port]) -> None:
        self._inputs = inputs
        self._outputs = outputs

    @property
    def inputs(self) -> list[Port]:
        return self._inputs

    @property
    def outputs(self) -> list[Port]:
        return self._outputs

    def _wanted(self, outputs: Sequence[str] | None) -> list[str]:
        """The output names to return: those asked for, in order, or all of them."""
        return list(outputs) if outputs is not None else [p.name for p in self._outputs]


class Runtime(Protocol):
    """An inference engine with its settings (device, precision, threads)."""

    name: str
    precision: Precision

    def describe(self) -> str:
        """One line for logs and system info, e.g. ``openvino 2026.4.1 CPU bf16``."""
        ...

    def compile_onnx(self, model: onnx.ModelProto, name: str) -> CompiledModel:
        """Compile an in-memory ONNX graph; ``name`` appears in errors and logs."""
        ...

    def compile_file(self, data: bytes, suffix: str, name: str) -> CompiledModel:
        """Compile the (already checked) bytes of a non-ONNX model file such as ``.pb``."""
        ...


def is_x86() -> bool:
    return platform.machine().lower() in X86_MACHINES


def _onnxruntime(config: VisionConfig, precision: Precision) -> Runtime:
    from watchkeeper.vision.runtime_onnx import OnnxRuntime

    return OnnxRuntime(
        list(config.providers), config.intra_op_threads, precision, config.cudnn_algorithm_search
    )


def _openvino(config: VisionConfig, precision: Precision) -> Runtime:
    from watchkeeper.vision.runtime_openvino import OpenVinoRuntime

    return OpenVinoRuntime(config.intra_op_threads, precision)


# name → factory; a factory imports its engine only when it is chosen
RUNTIMES: dict[str, Callable[[VisionConfig, Precision], Runtime]] = {
    "onnxruntime": _onnxruntime,
    "openvino": _openvino,
}


def select_runtime(config: VisionConfig) -> Runtime:
    """The runtime ``vision.runtime`` and ``vision.precision`` ask for, on this machine.

    ``auto`` keeps ONNX Runtime when a GPU provider (CUDA, TensorRT) is configured and can
    run here, takes OpenVINO on x86 CPUs, and ONNX Runtime anywhere else. ``auto`` precision
    is bf16 where OpenVINO says the CPU computes in bf16 natively, f32 otherwise.
    """
    name: str = config.runtime
    reason = "set in vision.runtime"
    if name == "auto":
        name, reason = _auto_runtime(config)
    if name not in RUNTIMES:
        raise ModelError(f"unknown vision.runtime '{name}'; known: auto, {', '.join(RUNTIMES)}")
    precision = _precision(config, name)
    runtime = RUNTIMES[name](config, precision)
    log.info("inference runtime: %s (%s)", runtime.describe(), reason)
    return runtime


def select_detector_runtime(config: VisionConfig, runtime: Runtime | None = None) -> Runtime:
    """The engine for the face detector, given the one ``select_runtime`` chose (if any: it is
    reused when the detector wants the same engine, and none is built just to compare).

    The two models do not rank the engines alike (decision 0042): OpenVINO embeds faster
    than ONNX Runtime on every x86 CPU measured, but YuNet in f32 runs faster on ONNX Runtime,
    and OpenVINO's faster bf16 moves box edges by up to 7 % (IoU 0.84 with the f32 boxes).
    So ``auto`` runs the detector on ONNX Runtime in f32 whatever the recogniser's engine;
    a detector engine that is set is used as it is, at ``vision.precision``.
    """
    wanted = config.detector_runtime
    precision: Precision
    if wanted == "auto":
        # f32 even where vision.precision asks for bf16: that asks it of the recogniser
        wanted, precision = "onnxruntime", "f32"
        reason = "auto: YuNet is faster on ONNX Runtime in f32"
    else:
        precision, reason = _precision(config, wanted), "set in vision.detector_runtime"
    if runtime is not None and wanted == runtime.name:
        return runtime
    detector_runtime = RUNTIMES[wanted](config, precision)
    log.info("face detector runtime: %s (%s)", detector_runtime.describe(), reason)
    return detector_runtime


def _auto_runtime(config: VisionConfig) -> tuple[str, str]:
    from watchkeeper.vision.runtime_onnx import gpu_providers

    gpus = gpu_providers(list(config.providers))
    if gpus:
        return "onnxruntime", f"auto: GPU provider {gpus[0]} runs here"
    if is_x86():
        return "openvino", "auto: x86 CPU"
    return "onnxruntime", f"auto: {platform.machine()} CPU, not x86"


def _precision(config: VisionConfig, runtime: str) -> Precision:
    wanted = config.precision
    if runtime != "openvino":
        if wanted == "bf16":
            raise ModelError(
                "vision.precision bf16 needs vision.runtime openvino (or auto on an x86 CPU); "
                f"{runtime} runs these models in f32 only"
            )
        return "f32"
    from watchkeeper.vision.runtime_openvino import cpu_has_bf16

    if wanted == "bf16" and not cpu_has_bf16():
        raise ModelError(
            "vision.precision bf16: this CPU has no bf16 instructions (OpenVINO lists none); "
            "set vision.precision to auto or f32"
        )
    if wanted == "auto":
        return "bf16" if cpu_has_bf16() else "f32"
    return wanted


def load_model(path: Path, sha256: str | None, runtime: Runtime, name: str) -> CompiledModel:
    """Check a model file's digest, read it and compile it on ``runtime``.

    ONNX files are parsed and their constant ``DequantizeLinear`` weights folded to f32 first;
    other formats (a TensorFlow frozen graph ``.pb``) go to the runtime as the checked bytes,
    so what runs is always exactly what was checked.
    """
    data = verified_bytes(path, sha256)
    if path.suffix.lower() == ".onnx":
        model = fold_constant_dequantization(parse_model(data, path))
        return runtime.compile_onnx(model, name)
    return runtime.compile_file(data, path.suffix.lower(), name)
