"""Pipeline: per-camera frames → faces → tracks → sightings, and the worker that runs it."""

from watchkeeper.pipeline.camera import CameraPipeline, PipelineStats, Screen
from watchkeeper.pipeline.worker import CameraWorker, Matcher, SightingSink

__all__ = [
    "CameraPipeline",
    "CameraWorker",
    "Matcher",
    "PipelineStats",
    "Screen",
    "SightingSink",
]
