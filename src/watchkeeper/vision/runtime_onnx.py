"""ONNX Runtime behind the :class:`~watchkeeper.vision.runtime.Runtime` protocol.

The engine for CUDA and TensorRT, and the fallback on CPUs where OpenVINO is not chosen.
Execution providers are taken in the configured order of preference, skipping those this
build of ONNX Runtime lacks; the CPU provider is always the last resort.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime as ort

from watchkeeper.vision.models import ModelError
from watchkeeper.vision.runtime import CompiledModel, Port, PortedModel, Precision

log = logging.getLogger(__name__)

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


def available_providers(preference: list[str]) -> list[str]:
    """The preferred execution providers that this ONNX Runtime build actually has."""
    present = set(ort.get_available_providers())
    # dict.fromkeys keeps the order and drops repeats, which ONNX Runtime warns about
    chosen = list(
        dict.fromkeys(PROVIDER_NAMES[p] for p in preference if PROVIDER_NAMES[p] in present)
    )
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def gpu_providers(preference: list[str]) -> list[str]:
    """The configured GPU providers (CUDA, TensorRT) that this machine can use."""
    return [p for p in available_providers(preference) if p != "CPUExecutionProvider"]


def _port(value: ort.NodeArg) -> Port:
    return Port(value.name, tuple(d if isinstance(d, int) else "?" for d in value.shape))


class OnnxSession(PortedModel):
    """A :class:`CompiledModel` over an ``ort.InferenceSession`` (thread-safe by itself)."""

    def __init__(self, session: ort.InferenceSession) -> None:
        super().__init__(
            [_port(v) for v in session.get_inputs()], [_port(v) for v in session.get_outputs()]
        )
        self.session = session

    def run(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        return list(self.session.run(self._wanted(outputs), dict(feeds)))


class OnnxRuntime:
    """ONNX Runtime with a provider preference and a thread count per inference."""

    name = "onnxruntime"

    def __init__(self, providers: list[str], intra_op_threads: int, precision: Precision) -> None:
        if precision != "f32":
            raise ModelError(f"ONNX Runtime runs these models in f32 only, not {precision}")
        self.providers = available_providers(providers)
        self.intra_op_threads = intra_op_threads
        self.precision: Precision = "f32"

    def describe(self) -> str:
        return f"onnxruntime {ort.__version__} {', '.join(self.providers)} f32"

    def compile_onnx(self, model: onnx.ModelProto, name: str) -> CompiledModel:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(
                model.SerializeToString(), options, providers=self.providers
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelError(f"ONNX Runtime cannot load the {name} model: {exc}") from exc
        log.info("loaded %s model on %s", name, ", ".join(session.get_providers()))
        return OnnxSession(session)

    def compile_file(self, data: bytes, suffix: str, name: str) -> CompiledModel:
        raise ModelError(
            f"ONNX Runtime reads ONNX files only, not the {suffix} file of the {name} model: "
            "set vision.runtime to openvino (or auto on an x86 CPU), or convert it to ONNX"
        )
