"""ONNX Runtime behind the :class:`~watchkeeper.vision.runtime.Runtime` protocol.

The engine for CUDA and TensorRT, and the fallback on CPUs where OpenVINO is not chosen.
Execution providers are taken in the configured order of preference, skipping those this
machine cannot run; the CPU provider is always the last resort.

A GPU provider is trusted only once a session has been seen to start on it. onnxruntime-gpu
lists CUDA and TensorRT whether or not a GPU, its driver and the CUDA, cuDNN and TensorRT
libraries are here, and a session asked for a provider that cannot start quietly runs on the
CPU instead, with a warning on stderr only: a node planned as a GPU node would then run the
models in f32 on one core, at a fraction of the planned speed, while reporting CUDA.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

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
CPU = PROVIDER_NAMES["cpu"]
# The library a GPU provider lives in, which ONNX Runtime loads when a session asks for it.
PROVIDER_LIBRARIES = {
    "TensorrtExecutionProvider": "libonnxruntime_providers_tensorrt.so",
    "CUDAExecutionProvider": "libonnxruntime_providers_cuda.so",
}


def available_providers(preference: list[str]) -> list[str]:
    """The preferred execution providers that this machine can run, in order, CPU last."""
    listed = set(ort.get_available_providers())
    # dict.fromkeys keeps the order and drops repeats, which ONNX Runtime warns about
    wanted = dict.fromkeys(PROVIDER_NAMES[p] for p in preference)
    chosen = [p for p in wanted if p in listed and (p == CPU or _starts(p))]
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


@functools.cache
def _starts(provider: str) -> bool:
    """Whether a GPU provider this build lists can run here (checked once per process)."""
    reason = _why_it_cannot_start(provider)
    if reason is not None:
        log.warning(
            "ONNX Runtime lists %s but it cannot run on this machine: %s. The models run "
            "without it (on x86 CPUs vision.runtime auto then picks OpenVINO).",
            provider,
            reason,
        )
    return reason is None


def _why_it_cannot_start(provider: str) -> str | None:
    _load_pip_gpu_libraries()
    library = Path(ort.__file__).parent / "capi" / PROVIDER_LIBRARIES[provider]
    if library.is_file():  # its dynamic loader's complaint names the missing library
        try:
            ctypes.CDLL(str(library))
        except OSError as exc:
            if "libcuda.so" in str(exc):  # the driver's library: the GPU itself is missing
                return (
                    f"{exc}; the NVIDIA driver is not here: this machine has no GPU, or the "
                    "container was started without access to it (docker run --gpus)"
                )
            cuda = getattr(ort, "cuda_version", "") or "?"
            needs = f"CUDA {cuda} and cuDNN 9" + (" and TensorRT" if "Tensorrt" in provider else "")
            return (
                f"{exc}; install the {needs} libraries this onnxruntime-gpu was built for "
                "(pip install 'onnxruntime-gpu[cuda,cudnn]' brings CUDA and cuDNN) or put "
                "them on LD_LIBRARY_PATH"
            )
    started = _probe_session(provider)
    if provider not in started:
        return (
            f"a session asked for it started on {', '.join(started)} instead (no GPU that "
            "its CUDA can use: check nvidia-smi, and that the driver is new enough)"
        )
    return None


@functools.cache
def _load_pip_gpu_libraries() -> None:
    """Load CUDA and cuDNN from the ``nvidia-*`` pip packages, where they were installed so.

    Those packages put the libraries where the dynamic loader does not look; onnxruntime-gpu
    offers ``preload_dlls`` to load them first, and prints (not logs) what it cannot find.
    """
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            preload()
    except Exception as exc:  # a missing directory or library is not fatal: the probe says
        log.debug("onnxruntime.preload_dlls: %s", exc)
    if printed.getvalue().strip():
        log.debug("onnxruntime.preload_dlls: %s", printed.getvalue().strip())


def _probe_session(provider: str) -> list[str]:
    """The providers a one-node session asked for ``provider`` actually started on."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])],
        "probe",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
    )
    model = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8
    )
    options = ort.SessionOptions()
    options.log_severity_level = 4  # the probe's own failure is reported by the caller
    # ONNX Runtime prints its retry on another provider to stdout
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            session = ort.InferenceSession(
                model.SerializeToString(), options, providers=[provider, CPU]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/EPFail types
            return [f"none ({str(exc).splitlines()[0]})"]
    return list(session.get_providers())


def gpu_providers(preference: list[str]) -> list[str]:
    """The configured GPU providers (CUDA, TensorRT) that this machine can use."""
    return [p for p in available_providers(preference) if p != CPU]


def with_settings(
    providers: list[str], cudnn_algorithm_search: str
) -> list[str | tuple[str, dict[str, str]]]:
    """The providers as a session takes them, the CUDA provider with its settings."""
    cuda = {"cudnn_conv_algo_search": cudnn_algorithm_search.upper()}
    return [(p, cuda) if p == PROVIDER_NAMES["cuda"] else p for p in providers]


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

    def __init__(
        self,
        providers: list[str],
        intra_op_threads: int,
        precision: Precision,
        cudnn_algorithm_search: str = "heuristic",
    ) -> None:
        if precision != "f32":
            raise ModelError(f"ONNX Runtime runs these models in f32 only, not {precision}")
        self.providers = available_providers(providers)
        self.intra_op_threads = intra_op_threads
        self.precision: Precision = "f32"
        self.cudnn_algorithm_search = cudnn_algorithm_search

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
                model.SerializeToString(),
                options,
                providers=with_settings(self.providers, self.cudnn_algorithm_search),
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
