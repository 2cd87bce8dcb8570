"""Pipeline: per-camera frames → faces → tracks → sightings, and the worker that runs it."""

from watchkeeper.pipeline.camera import CameraPipeline, PipelineStats, Screen
from watchkeeper.pipeline.motion import (
    Analyzer,
    DetectingAnalyzer,
    MotionGatedAnalyzer,
    motion_gated,
)
from watchkeeper.pipeline.worker import CameraWorker, Matcher, SightingSink

__all__ = [
    "Analyzer",
    "CameraPipeline",
    "CameraWorker",
    "DetectingAnalyzer",
    "Matcher",
    "MotionGatedAnalyzer",
    "PipelineStats",
    "Screen",
    "SightingSink",
    "motion_gated",
]
