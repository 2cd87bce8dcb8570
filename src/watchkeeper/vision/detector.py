"""Face detectors: an image in, a :class:`~watchkeeper.domain.Faces` batch out.

Two ONNX families are understood: YuNet (the bundled default, OpenCV Zoo) and SCRFD
(InsightFace, supplied by the user as a file). Both are anchor-free heads at strides 8/16/32
with a score, a box and five landmarks per cell; they differ in their output layout and
input normalisation, which is all that the subclasses describe.

Any frame size is accepted: the frame is scaled so that its longer side fits
``max_side`` (never enlarged), padded to the stride the model needs, and the results are
mapped back to source pixels.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
import onnx

from watchkeeper.domain import Faces, FloatArray, ImageArray
from watchkeeper.vision.models import ModelError, Signature
from watchkeeper.vision.runtime import CompiledModel

STRIDES = (8, 16, 32)


class Detector(Protocol):
    """Anything that finds faces in a BGR image."""

    name: str

    def detect(self, image: ImageArray) -> Faces: ...


class OnnxDetector:
    """Shared pre- and post-processing of the anchor-free ONNX detectors, on any runtime."""

    name = "detector"

    def __init__(
        self,
        compiled: CompiledModel,
        max_side: int = 1280,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        min_face_size: int = 0,
        name: str | None = None,
    ) -> None:
        self.compiled = compiled
        self.max_side = max_side
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.min_face_size = min_face_size
        if name:
            self.name = name
        model_input = compiled.inputs[0]
        self.input_name = model_input.name
        shape = model_input.shape
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.fixed_size: tuple[int, int] | None = (int(shape[2]), int(shape[3])) if fixed else None
        self.output_names = [o.name for o in compiled.outputs]

    def detect(self, image: ImageArray) -> Faces:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an H×W×3 BGR image, got shape {image.shape}")
        canvas, scale = self._fit(image)
        blob = self._normalise(canvas)
        outputs = self.compiled.run({self.input_name: blob}, self.output_names)
        boxes, landmarks, scores = self._decode(outputs, canvas.shape[0], canvas.shape[1])
        keep = scores >= self.score_threshold
        boxes, landmarks, scores = boxes[keep], landmarks[keep], scores[keep]
        if len(scores):
            wh = boxes[:, 2:] - boxes[:, :2]
            chosen = cv2.dnn.NMSBoxes(
                np.concatenate([boxes[:, :2], wh], axis=1).tolist(),
                scores.tolist(),
                self.score_threshold,
                self.nms_threshold,
            )
            order = np.asarray(chosen, dtype=np.int64).reshape(-1)
            boxes, landmarks, scores = boxes[order], landmarks[order], scores[order]
        boxes = boxes / scale
        landmarks = landmarks / scale
        height, width = image.shape[:2]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width - 1)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height - 1)
        faces = Faces(
            boxes=boxes.astype(np.float32),
            landmarks=landmarks.reshape(-1, 5, 2).astype(np.float32),
            scores=scores.astype(np.float32),
        )
        if self.min_face_size and len(faces):
            faces = faces[faces.sizes >= self.min_face_size]
        return faces

    def _fit(self, image: ImageArray) -> tuple[ImageArray, float]:
        """Scale (down only) and pad the image onto the canvas the model expects."""
        height, width = image.shape[:2]
        if self.fixed_size is not None:
            target_h, target_w = self.fixed_size
            scale = min(target_h / height, target_w / width)
        else:
            scale = min(1.0, self.max_side / max(height, width))
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        resized = (
            image
            if (new_w, new_h) == (width, height)
            else cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        )
        if self.fixed_size is not None:
            canvas_h, canvas_w = self.fixed_size
        else:
            canvas_h = -(-new_h // 32) * 32
            canvas_w = -(-new_w // 32) * 32
        canvas = np.zeros((canvas_h, canvas_w, 3), np.uint8)
        canvas[:new_h, :new_w] = resized
        return canvas, scale

    def _normalise(self, canvas: ImageArray) -> FloatArray:
        raise NotImplementedError

    def _decode(
        self, outputs: list[np.ndarray], height: int, width: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        raise NotImplementedError


def _cells(hit: np.ndarray, width: int, stride: int, anchors: int) -> FloatArray:
    """Column and row of the feature-map cell of each hit of a stride's flat, anchors-minor
    output: only the few hits, not a grid of the whole map each frame."""
    cell = np.flatnonzero(hit) // anchors
    columns = width // stride
    return np.stack([cell % columns, cell // columns], axis=1).astype(np.float32)


class YuNetDetector(OnnxDetector):
    """YuNet (2023mar): separate class and objectness heads; offsets in cell units."""

    name = "yunet-2023mar-int8bq"

    def _normalise(self, canvas: ImageArray) -> FloatArray:
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)

    def _decode(
        self, outputs: list[np.ndarray], height: int, width: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        named = dict(zip(self.output_names, outputs, strict=True))
        all_boxes, all_kps, all_scores = [], [], []
        for stride in STRIDES:
            cls = named[f"cls_{stride}"].reshape(-1)
            obj = named[f"obj_{stride}"].reshape(-1)
            bbox = named[f"bbox_{stride}"].reshape(-1, 4)
            kps = named[f"kps_{stride}"].reshape(-1, 10)
            # the score is the geometric mean of the two: compared squared, rooted for hits
            product = cls.clip(0, 1) * obj.clip(0, 1)
            hit = product >= self.score_threshold**2
            if not hit.any():
                continue
            cells = _cells(hit, width, stride, 1)
            bbox, kps, scores = bbox[hit], kps[hit], np.sqrt(product[hit])
            centre = (cells + bbox[:, :2]) * stride
            size = np.exp(bbox[:, 2:4]) * stride
            all_boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
            points = (kps.reshape(-1, 5, 2) + cells[:, None, :]) * stride
            all_kps.append(points.reshape(-1, 10))
            all_scores.append(scores)
        return _stack(all_boxes, all_kps, all_scores)


class ScrfdDetector(OnnxDetector):
    """InsightFace SCRFD: scores, distance-to-edge boxes and landmarks, 1–2 anchors per cell.

    Outputs come in the exporter's order: the three score maps, then three box maps, then
    (for the ``_kps`` variants) three landmark maps, each with or without a batch axis.
    """

    name = "scrfd"

    def _normalise(self, canvas: ImageArray) -> FloatArray:
        rgb = canvas[:, :, ::-1].astype(np.float32)
        return np.ascontiguousarray(((rgb - 127.5) / 128.0).transpose(2, 0, 1)[None])

    def _decode(
        self, outputs: list[np.ndarray], height: int, width: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        heads = len(STRIDES)
        all_boxes, all_kps, all_scores = [], [], []
        for level, stride in enumerate(STRIDES):
            scores = outputs[level].reshape(-1)
            hit = scores >= self.score_threshold
            if not hit.any():
                continue
            cells_count = (height // stride) * (width // stride)
            anchors = max(1, scores.shape[0] // max(1, cells_count))
            centres = _cells(hit, width, stride, anchors) * stride
            distances = outputs[level + heads].reshape(-1, 4)[hit] * stride
            landmarks = outputs[level + 2 * heads].reshape(-1, 10)[hit] * stride
            all_boxes.append(
                np.concatenate([centres - distances[:, :2], centres + distances[:, 2:]], axis=1)
            )
            points = landmarks.reshape(-1, 5, 2) + centres[:, None, :]
            all_kps.append(points.reshape(-1, 10))
            all_scores.append(scores[hit])
        return _stack(all_boxes, all_kps, all_scores)


def _stack(
    boxes: list[np.ndarray], kps: list[np.ndarray], scores: list[np.ndarray]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    if not scores:
        return (
            np.zeros((0, 4), np.float32),
            np.zeros((0, 10), np.float32),
            np.zeros(0, np.float32),
        )
    return (
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(kps).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
    )


def check_detector_signature(model: onnx.ModelProto, kind: str, source: str) -> None:
    """Refuse a file that cannot be the detector the config says it is."""
    signature = Signature.of(model)
    if not signature.looks_like_detector():
        raise ModelError(
            f"{source} does not look like a face detector: it has inputs {signature.inputs} "
            f"and {len(signature.outputs)} outputs"
        )
    names = [name for name, _ in signature.outputs]
    if kind == "yunet":
        wanted = {f"{head}_{s}" for head in ("cls", "obj", "bbox", "kps") for s in STRIDES}
        if not wanted <= set(names):
            raise ModelError(f"{source} lacks YuNet outputs {sorted(wanted - set(names))}")
    elif kind == "scrfd" and len(names) != 9:
        raise ModelError(
            f"{source} has {len(names)} outputs; an SCRFD detector with landmarks (the '_kps' "
            "variants) has 9: scores, boxes and landmarks at strides 8, 16 and 32"
        )
