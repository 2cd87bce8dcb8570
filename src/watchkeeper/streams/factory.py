"""From a camera URI to a source: the registry of source kinds and the one way to open them.

A kind is a class that takes ``(target, camera, options)``; the URI decides the kind:

=========================================  ========
``rtsp://``, ``rtsps://``, ``http(s)://``   stream
``/dev/video*`` (``file://`` too)           device
a folder (``file://`` too)                  images
any other path (``file://`` too)            video
=========================================  ========

Adding a kind is one class and one line in :data:`SOURCE_KINDS`; an unknown scheme fails
with the schemes that are understood.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from watchkeeper.config import StreamConfig
from watchkeeper.streams.av_source import DeviceSource, NetworkSource, VideoFileSource
from watchkeeper.streams.base import Source, SourceError, SourceOptions, redact
from watchkeeper.streams.images import ImageFolderSource
from watchkeeper.streams.reconnect import ReconnectingSource


class SourceClass(Protocol):
    live: bool

    def __call__(self, target: str, camera: str, options: SourceOptions) -> Source: ...


SOURCE_KINDS: dict[str, SourceClass] = {
    VideoFileSource.kind: VideoFileSource,
    ImageFolderSource.kind: ImageFolderSource,
    NetworkSource.kind: NetworkSource,
    DeviceSource.kind: DeviceSource,
}

NETWORK_SCHEMES = ("rtsp", "rtsps", "http", "https")
SUPPORTED = "rtsp://, rtsps://, http://, https://, file:// or a plain path"


def resolve(uri: str) -> tuple[str, str]:
    """The kind of source a URI names and the target to hand that kind (URL or path)."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in NETWORK_SCHEMES:
        return NetworkSource.kind, uri
    if scheme == "file":
        path = unquote(parts.path)
    elif len(scheme) <= 1:  # no scheme, or a Windows drive letter
        path = uri
    else:
        raise SourceError(f"{redact(uri)}: unsupported scheme {scheme!r}; use {SUPPORTED}")
    if path.startswith("/dev/video"):
        return DeviceSource.kind, path
    if Path(path).is_dir():
        return ImageFolderSource.kind, path
    return VideoFileSource.kind, path


def open_source(
    uri: str,
    camera: str,
    analysis_fps: float,
    open_timeout_s: float = 10.0,
    max_image_pixels: int = 50_000_000,
    *,
    read_timeout_s: float | None = None,
    decode_threads: int = 1,
    skip_nonref: bool = False,
    max_key_interval_s: float = 2.0,
    rewind_live: bool = False,
    reconnect: bool = False,
    backoff_base_s: float = 1.0,
    backoff_cap_s: float = 60.0,
) -> Source:
    """Open the source a URI names, ready to yield frames at ``analysis_fps``.

    A file or folder that cannot be read fails here with :class:`SourceError`; so does a
    network stream that does not answer within ``open_timeout_s``, unless ``reconnect`` is set:
    then a live source is returned as a :class:`ReconnectingSource` that keeps trying.
    ``skip_nonref`` skips decoding frames nothing refers to when at most every other frame is
    analysed (about 40 % less decoding on typical H.264, at the cost of a frame of jitter).

    Example::

        source = open_source("rtsp://cam-1/stream", "gate-1", analysis_fps=5, reconnect=True)
    """
    if analysis_fps <= 0:
        raise SourceError(f"{camera}: analysis_fps must be above 0, not {analysis_fps}")
    options = SourceOptions(
        analysis_fps=analysis_fps,
        open_timeout_s=open_timeout_s,
        read_timeout_s=read_timeout_s,
        max_image_pixels=max_image_pixels,
        decode_threads=decode_threads,
        skip_nonref=skip_nonref,
        max_key_interval_s=max_key_interval_s,
        rewind_live=rewind_live,
    )
    kind, target = resolve(uri)
    cls = SOURCE_KINDS[kind]
    if reconnect and cls.live:
        return ReconnectingSource(
            lambda: cls(target, camera, options),
            camera,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
        )
    return cls(target, camera, options)


def open_configured_source(
    uri: str, camera: str, analysis_fps: float, config: StreamConfig
) -> Source:
    """A one-off source (a file, a folder, a stream without reconnect) with ``streams.*``'s
    limits and decoding options: what ``run`` and ``run --crowd`` analyse."""
    return open_source(
        uri,
        camera,
        analysis_fps,
        open_timeout_s=config.open_timeout_s,
        max_image_pixels=config.max_image_pixels,
        read_timeout_s=config.read_timeout_s,
        decode_threads=config.decode_threads,
        skip_nonref=config.skip_nonref,
        max_key_interval_s=config.max_key_interval_s,
        rewind_live=config.rewind_live,
    )
