"""Vision: frames to faces (detect, align, score quality) and faces to templates (embed)."""

from watchkeeper.vision.analyzer import AnalysedFaces, FaceAnalyzer
from watchkeeper.vision.models import ModelError

__all__ = ["AnalysedFaces", "FaceAnalyzer", "ModelError"]
