"""OpenVINO behind the :class:`~watchkeeper.vision.runtime.Runtime` protocol.

The default engine of the recogniser on x86 CPUs. Measured on an AMD EPYC with AVX-512
(docs/performance.md): SFace 7.2 ms per face in f32 and 4.0 ms in bf16 against 15.7 ms in ONNX
Runtime on the same f32 weights (the detector stays on ONNX Runtime: decision 0042). The
precision is always set explicitly, because OpenVINO otherwise picks bf16 by itself on some
CPUs, and a deployment should know what it runs.

Threads: with ``intra_op_threads`` = n > 0 each inference uses n threads and up to
cores / n inferences run at once (one OpenVINO *stream* each), so that camera threads sharing
one detector keep every core busy as they did with ONNX Runtime; 0 gives one inference all
cores. Each call borrows an infer request from a small pool, which makes the compiled model
safe to share between threads.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import openvino as ov

from watchkeeper.vision.models import ModelError
from watchkeeper.vision.runtime import CompiledModel, Port, PortedModel, Precision

log = logging.getLogger(__name__)

DEVICE = "CPU"


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes in bf16 natively on this machine (asked once:
    the CPU does not change, and each question builds an OpenVINO core)."""
    return "BF16" in ov.Core().get_property(DEVICE, "OPTIMIZATION_CAPABILITIES")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _names(port: Any) -> set[str]:
    """Every name a port answers to; TensorFlow's ``name:0`` also answers to ``name``."""
    names = set(port.get_names())
    return names | {n[:-2] for n in names if n.endswith(":0")}


def _port(port: Any, declared: set[str]) -> Port:
    """The port under the name its file declares (ONNX), else its shortest name."""
    names = _names(port)
    name = min(names & declared or names, key=lambda n: (len(n), n))
    shape = port.get_partial_shape()
    if shape.rank.is_dynamic:
        return Port(name, ())
    return Port(name, tuple(d.get_length() if d.is_static else "?" for d in shape))


class OpenVinoModel(PortedModel):
    """A :class:`CompiledModel` over ``ov.CompiledModel`` with a pool of infer requests."""

    def __init__(self, compiled: ov.CompiledModel, declared: set[str]) -> None:
        super().__init__(
            [_port(p, declared) for p in compiled.inputs],
            [_port(p, declared) for p in compiled.outputs],
        )
        self.compiled = compiled
        self._input_by_name = {n: p for p in compiled.inputs for n in _names(p)}
        self._output_by_name = {n: p for p in compiled.outputs for n in _names(p)}
        self._idle: queue.SimpleQueue[ov.InferRequest] = queue.SimpleQueue()

    def run(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str] | None = None
    ) -> list[np.ndarray]:
        names = self._wanted(outputs)
        try:
            inputs = {self._input_by_name[name]: value for name, value in feeds.items()}
            ports = [self._output_by_name[n] for n in names]
        except KeyError as exc:
            raise ModelError(
                f"the model has no input or output {exc}; it has inputs "
                f"{[p.name for p in self._inputs]} and outputs {[p.name for p in self._outputs]}"
            ) from None
        try:
            request = self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled.create_infer_request()
        try:
            results = request.infer(inputs)  # copies the outputs out of the request
            return [np.asarray(results[port]) for port in ports]
        finally:
            self._idle.put(request)


class OpenVinoRuntime:
    """OpenVINO on the CPU, in f32 or bf16."""

    name = "openvino"

    def __init__(self, intra_op_threads: int, precision: Precision) -> None:
        self.core = ov.Core()
        self.precision: Precision = precision
        cores = _cores()
        if intra_op_threads > 0:
            streams = max(1, cores // intra_op_threads)
            threads = streams * intra_op_threads
        else:
            streams, threads = 1, cores
        self.streams = streams
        self.properties: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": precision,  # our names are OpenVINO's
            "NUM_STREAMS": streams,
            "INFERENCE_NUM_THREADS": threads,
            # cameras, decoders and the API share the cores; pinning would fight them
            "ENABLE_CPU_PINNING": False,
        }

    def describe(self) -> str:
        return f"openvino {ov.get_version().split('-')[0]} {DEVICE} {self.precision}"

    def compile_onnx(self, model: onnx.ModelProto, name: str) -> CompiledModel:
        try:
            declared = {v.name for v in [*model.graph.input, *model.graph.output]}
            return self._compile(self.core.read_model(model.SerializeToString()), name, declared)
        except Exception as exc:  # OpenVINO raises RuntimeError with its own text
            raise ModelError(f"OpenVINO cannot load the {name} model: {exc}") from exc

    def compile_file(self, data: bytes, suffix: str, name: str) -> CompiledModel:
        # OpenVINO's TensorFlow reader takes a path only: hand it a private copy of exactly
        # the bytes that were checked, never the original file, which could change meanwhile
        try:
            with tempfile.TemporaryDirectory(prefix="watchkeeper-model-") as folder:
                copy = Path(folder) / f"model{suffix}"
                copy.write_bytes(data)
                read = self.core.read_model(str(copy))
            return self._compile(read, name, set())
        except Exception as exc:  # OpenVINO raises RuntimeError with its own text
            raise ModelError(
                f"OpenVINO cannot read the {suffix} file of the {name} model: {exc}"
            ) from exc

    def _compile(self, model: ov.Model, name: str, declared: set[str]) -> CompiledModel:
        compiled = self.core.compile_model(model, DEVICE, self.properties)
        log.info(
            "loaded %s model on OpenVINO %s, %s, %d stream(s)",
            name,
            DEVICE,
            compiled.get_property("INFERENCE_PRECISION_HINT").to_string(),
            self.streams,
        )
        return OpenVinoModel(compiled, declared)
