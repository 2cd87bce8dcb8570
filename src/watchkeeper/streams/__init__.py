"""Streams: camera URIs to timestamped frames, sampled at the analysis rate, with health figures.

Example::

    from watchkeeper.streams import open_source

    source = open_source("examples/data/video/facenet-pytorch-video.mp4", "demo", 5.0)
    for frame in source.frames():
        ...  # frame.image is H×W×3 BGR uint8, frame.timestamp wall-clock seconds
    print(source.health)
"""

from watchkeeper.streams.av_source import DeviceSource, NetworkSource, VideoFileSource
from watchkeeper.streams.base import (
    KeyFrameSource,
    RewindableSource,
    Source,
    SourceError,
    SourceOptions,
)
from watchkeeper.streams.factory import SOURCE_KINDS, open_configured_source, open_source, resolve
from watchkeeper.streams.health import SourceHealth
from watchkeeper.streams.images import ImageFolderSource
from watchkeeper.streams.reconnect import ReconnectingSource
from watchkeeper.streams.sampling import Sampler

__all__ = [
    "SOURCE_KINDS",
    "DeviceSource",
    "ImageFolderSource",
    "KeyFrameSource",
    "NetworkSource",
    "ReconnectingSource",
    "RewindableSource",
    "Sampler",
    "Source",
    "SourceError",
    "SourceHealth",
    "SourceOptions",
    "VideoFileSource",
    "open_configured_source",
    "open_source",
    "resolve",
]
