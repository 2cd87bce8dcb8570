"""Face recognisers: aligned 112×112 crops in, L2-normalised templates out.

SFace (bundled default) takes BGR→RGB pixels in 0..255; InsightFace ArcFace models take RGB
scaled to −1..1. Both are run in batches: a model exported with a fixed batch of 1 is freed
to a dynamic batch at load time where possible, and otherwise fed one crop at a time.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import onnx

from watchkeeper.domain import FloatArray
from watchkeeper.vision.models import ModelError, Signature
from watchkeeper.vision.runtime import CompiledModel


class Embedder(Protocol):
    """Anything that turns aligned crops into unit vectors; ``model`` names it in templates."""

    model: str
    dimension: int

    def embed(self, aligned: np.ndarray) -> FloatArray: ...


class OnnxEmbedder:
    """An ONNX recogniser on any runtime; subclasses say how pixels are normalised."""

    def __init__(self, compiled: CompiledModel, model: str, max_batch: int = 32) -> None:
        self.compiled = compiled
        self.model = model
        model_input = compiled.inputs[0]
        self.input_name = model_input.name
        batch_dim = model_input.shape[0]
        self.max_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else max_batch
        size = model_input.shape[2]
        if isinstance(size, int) and size != 112:
            raise ModelError(
                f"{model}: recogniser input is {size}×{size}; aligned crops are 112×112"
            )
        output_shape = compiled.outputs[0].shape
        self.dimension = int(output_shape[-1]) if isinstance(output_shape[-1], int) else 0

    def embed(self, aligned: np.ndarray) -> FloatArray:
        if aligned.ndim != 4 or aligned.shape[1:] != (112, 112, 3):
            raise ValueError(f"expected (N,112,112,3) aligned crops, got {aligned.shape}")
        chunks = []
        for start in range(0, len(aligned), self.max_batch):
            blob = self._normalise(aligned[start : start + self.max_batch])
            chunks.append(self.compiled.run({self.input_name: blob})[0])
        if not chunks:
            return np.zeros((0, self.dimension), np.float32)
        vectors = np.concatenate(chunks).reshape(len(aligned), -1).astype(np.float32)
        self.dimension = vectors.shape[1]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: FloatArray = vectors / np.maximum(norms, 1e-12)
        return unit

    def _normalise(self, crops: np.ndarray) -> FloatArray:
        raise NotImplementedError


class SFaceEmbedder(OnnxEmbedder):
    def _normalise(self, crops: np.ndarray) -> FloatArray:
        rgb = crops[..., ::-1].astype(np.float32)
        return np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))


class ArcFaceEmbedder(OnnxEmbedder):
    def _normalise(self, crops: np.ndarray) -> FloatArray:
        rgb = crops[..., ::-1].astype(np.float32)
        return np.ascontiguousarray(((rgb - 127.5) / 127.5).transpose(0, 3, 1, 2))


def check_recogniser_signature(model: onnx.ModelProto, source: str) -> None:
    signature = Signature.of(model)
    if not signature.looks_like_recogniser():
        raise ModelError(
            f"{source} does not look like a face recogniser: expected one N×3×112×112 input and "
            f"one embedding output, found inputs {signature.inputs} and outputs {signature.outputs}"
        )
