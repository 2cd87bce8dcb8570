"""detect → align → score quality → embed, in one place for every caller.

The pipeline, enrolment, investigations and evaluation all need the same steps in the same
order with the same settings; doing them here keeps a template made at enrolment comparable
with one made from a camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from watchkeeper.config import VisionConfig
from watchkeeper.domain import Faces, FloatArray, ImageArray
from watchkeeper.vision.align import align_faces
from watchkeeper.vision.detector import Detector
from watchkeeper.vision.embedder import Embedder
from watchkeeper.vision.factory import load_detector, load_embedder
from watchkeeper.vision.quality import quality_scores
from watchkeeper.vision.runtime import select_detector_runtime, select_runtime


@dataclass(slots=True)
class AnalysedFaces:
    """Faces of one image with their quality and aligned crops (not yet embedded)."""

    faces: Faces
    aligned: np.ndarray  # (N,112,112,3) BGR

    @classmethod
    def empty(cls) -> AnalysedFaces:
        """No face: what an image without one, or a camera that never looks, gives."""
        return cls(faces=Faces.empty(), aligned=np.zeros((0, 112, 112, 3), np.uint8))

    @classmethod
    def of(cls, image: ImageArray, faces: Faces) -> AnalysedFaces:
        """``faces`` found in ``image``, aligned from it and scored for quality.

        Apart from detection so that faces found elsewhere (on a motion gate's canvas, then
        moved back to frame pixels) are aligned and scored exactly as a whole-frame pass would.
        """
        aligned = align_faces(image, faces.landmarks)
        faces.quality = quality_scores(faces, aligned)
        return cls(faces=faces, aligned=aligned)


class FaceAnalyzer:
    """The façade over one detector and one embedder."""

    def __init__(self, detector: Detector, embedder: Embedder, runtime: str = "") -> None:
        self.detector = detector
        self.embedder = embedder
        self.runtime = runtime  # what runs the models, for logs and system info

    @classmethod
    def from_config(cls, config: VisionConfig) -> FaceAnalyzer:
        runtime = select_runtime(config)
        detector_runtime = select_detector_runtime(config, runtime)
        described = runtime.describe()
        if detector_runtime is not runtime:
            described += f"; detector {detector_runtime.describe()}"
        return cls(
            load_detector(config, detector_runtime), load_embedder(config, runtime), described
        )

    @property
    def model(self) -> str:
        return self.embedder.model

    def detect(self, image: ImageArray) -> Faces:
        return self.detector.detect(image)

    def analyse(self, image: ImageArray) -> AnalysedFaces:
        return AnalysedFaces.of(image, self.detect(image))

    def embed(self, aligned: np.ndarray) -> FloatArray:
        return self.embedder.embed(aligned)
