"""Sources that FFmpeg decodes (through PyAV): video files, network streams, local devices.

PyAV releases the GIL while it demuxes and decodes, so one thread per camera scales across
cores; ``decode_threads`` (default 1) caps what one camera may take on top of that.

Files and live streams differ in what time means and in what a failure is:

* a file's frames are stamped with the recording's start (the container's ``creation_time``,
  else the file's mtime minus its duration) plus their presentation time, and are sampled by
  presentation time, so decoding faster than real time changes nothing; a corrupt or
  truncated file raises :class:`SourceError` where the damage is found;
* a live frame is stamped ``time.time()`` when it is decoded and sampled by wall-clock time;
  a damaged packet is counted and skipped (packet loss is normal on a network), and a stream
  that ends or stalls raises :class:`SourceError` so that :class:`ReconnectingSource` can
  open it again.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar, cast

import av
import av.container
import av.video

from watchkeeper.domain import Frame, ImageArray
from watchkeeper.streams.base import SourceError, SourceOptions, redact
from watchkeeper.streams.health import HealthRecorder, SourceHealth
from watchkeeper.streams.keyframes import KeyFrameClock
from watchkeeper.streams.sampling import Sampler

log = logging.getLogger(__name__)

# Errors from FFmpeg, and from the OS under it (a refused connection is both).
AV_ERRORS = (av.FFmpegError, OSError)

# H.264 allows at most 16 consecutive B-frames: the most frames NONREF may leave undecoded at
# the end of a file.
MAX_SKIPPED_RUN = 16

# A rewind goes back to the key frame before the latest; a decoder that reorders frames (B-frames)
# hands a key frame out a few packets late, by when the next may have been demuxed.
KEPT_KEY_FRAMES = 3

UNIT = Fraction(1, 1)  # a stream without a time base: its times are taken as seconds


class AvSource:
    """Shared opening, decoding, sampling and closing of anything PyAV can open."""

    kind: ClassVar[str]
    live: ClassVar[bool]

    def __init__(self, target: str, camera: str, options: SourceOptions) -> None:
        self.target = target
        self.name = camera
        self.options = options
        self.label = redact(target)
        self._recorder = HealthRecorder()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reading = False
        container = self._open()
        try:
            self._stream = self._video_stream(container)
        except SourceError:
            container.close()
            raise
        self._container: av.container.InputContainer | None = container
        self._configure_decoder(self._stream)
        self._keys = KeyFrameClock(options.max_key_interval_s, self._stream.time_base or UNIT)
        self._key_frames_wanted = False
        self._key_frames_only = False
        self._kept: list[av.Packet[Any]] = []  # what a rewind decodes again
        self._rest: _Rest | None = None  # the last key frame handed out at rest
        self._out_at_rest = False  # the frame out is a key frame read at rest
        self._rewind_wanted = False
        self._recorder.set_state("connected")

    @property
    def health(self) -> SourceHealth:
        return self._recorder.snapshot()

    def close(self) -> None:
        """Stop reading; safe from any thread (the reading thread closes what it is using)."""
        self._stop.set()
        with self._lock:
            if not self._reading:
                self._release()

    def frames(self) -> Iterator[Frame]:
        """The sampled frames, once: a source is read by one thread, from start to end."""
        with self._lock:
            container = self._container
            if self._stop.is_set() or container is None:
                return
            self._reading = True
        sampler = Sampler(self.options.analysis_fps)
        try:
            yield from self._decode(container, sampler)
        finally:
            with self._lock:
                self._reading = False
                self._release()

    def key_frames_only(self, wanted: bool) -> None:
        """Decode only the key frames from the next packet on (``wanted``), or every frame.

        The camera worker asks for it while the picture is still (``motion.sleep_after_s``)
        and from the reading thread, between frames, which keeps waking clean
        (``streams.keyframes``). It has no effect while the stream's key frames come further
        apart than ``max_key_interval_s``.
        """
        self._key_frames_wanted = wanted

    def rewind(self) -> bool:
        """Take back the frame just handed out: every due frame since the key frame handed
        out before it comes next, each decoded, then this one again.

        For a source read on its key frames alone (:meth:`key_frames_only`) whose reader saw
        on a key frame that the picture changed: whatever changed did so after the key frame
        before, and those frames were left undecoded. Reading them now, before this one,
        keeps the order of time and misses nothing, at the cost of decoding the key frame
        before again (a live stream's frames read again are stamped back from this one's
        time by their presentation times). Returns False, and changes nothing, unless the
        frame out is a key frame read that way and the one before was too.
        """
        if self._rest is None or not self._out_at_rest or self._replay_from(self._rest) is None:
            return False
        self._rewind_wanted = True
        return True

    def _read(self, packet: av.Packet[Any]) -> bool:
        """Whether to decode ``packet``; kept for a rewind either way."""
        decodes = self._decodes(packet)
        self._keep(packet)
        return decodes

    def _hand_out(
        self, frames: list[av.VideoFrame], clock: _Clock, after_pts: int | None = None
    ) -> Iterator[Frame]:
        """The due frames among ``frames`` (when replaying, only those after ``after_pts``),
        remembering where a rewind would go back to."""
        for frame in frames:
            if self._stop.is_set():
                return
            self._recorder.frame_in()
            if after_pts is not None and (frame.pts is None or frame.pts <= after_pts):
                continue  # handed out before the rewind
            due_at, timestamp = clock.stamp(frame)
            if not clock.sampler.due(due_at):
                continue
            rest = None
            if self._key_frames_only and frame.key_frame and frame.pts is not None:
                rest = _Rest(frame.pts, clock.index, copy.copy(clock.sampler), due_at, timestamp)
            self._recorder.frame_out(timestamp, live=self.live)
            self._out_at_rest = rest is not None and after_pts is None
            yield Frame(self.name, clock.index, timestamp, _bgr(frame))
            self._out_at_rest = False
            if self._rewind_wanted:
                yield from self._replay(clock)
                return  # the replay decoded this frame's packet again
            self._rest = rest

    def _keep(self, packet: av.Packet[Any]) -> None:
        """Keep the packets a rewind may decode again, while key frames alone are read: those
        since the third key frame back (a decoder that reorders frames hands a key frame out
        a few packets late); none while every frame is decoded, nor on a live stream unless
        ``rewind_live`` is set (then there is nothing to go back to)."""
        if not self._key_frames_only or (self.live and not self.options.rewind_live):
            self._kept.clear()
            return
        self._kept.append(packet)
        if packet.is_keyframe:
            keys = [i for i, kept in enumerate(self._kept) if kept.is_keyframe]
            del self._kept[: keys[-KEPT_KEY_FRAMES:][0]]

    def _replay_from(self, rest: _Rest) -> int | None:
        """Where the packets kept begin with the key frame of ``rest``."""
        return next(
            (i for i, p in enumerate(self._kept) if p.is_keyframe and p.pts == rest.pts), None
        )

    def _replay(self, clock: _Clock) -> Iterator[Frame]:
        """Decode again from the last key frame handed out at rest (see :meth:`rewind`)."""
        rest, self._rest, self._rewind_wanted = self._rest, None, False
        assert rest is not None
        start = self._replay_from(rest)
        assert start is not None
        log.debug(
            "%s: the picture changed: reading the frames since the key frame before", self.label
        )
        clock.sampler, clock.index = rest.sampler, rest.index
        codec = self._stream.codec_context
        codec.flush_buffers()
        with clock.replaying(rest):
            for packet in list(self._kept[start:]):
                yield from self._hand_out(codec.decode(packet), clock, after_pts=rest.pts)

    def _decodes(self, packet: av.Packet[Any]) -> bool:
        """Whether ``packet`` is to be decoded; times the key frames as they pass."""
        self._keys.see(packet)
        only = self._key_frames_wanted and self._keys.short_enough
        if only != self._key_frames_only:
            self._key_frames_only = only
            self._recorder.key_frames_only(only)
            log.debug(
                "%s: %s", self.label,
                f"picture still: key frames only, every {self._keys.interval_s:.1f} s"
                if only else "decoding every frame again",
            )  # fmt: skip
        return not (only and KeyFrameClock.skippable(packet))

    def _open(self) -> av.container.InputContainer:
        raise NotImplementedError

    def _decode(self, container: av.container.InputContainer, sampler: Sampler) -> Iterator[Frame]:
        raise NotImplementedError

    def _video_stream(self, container: av.container.InputContainer) -> av.video.VideoStream:
        if not container.streams.video:
            raise SourceError(f"{self.label}: has no video stream")
        stream = container.streams.video[0]
        # a crafted header can claim any size: refuse it before a frame buffer is allocated
        width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
        if width * height > self.options.max_image_pixels:
            raise SourceError(
                f"{self.label}: frames of {width}×{height} are {width * height:,} pixels, more "
                f"than the {self.options.max_image_pixels:,} allowed (streams.max_image_pixels)"
            )
        return stream

    def _configure_decoder(self, stream: av.video.VideoStream) -> None:
        codec = stream.codec_context
        codec.thread_count = self.options.decode_threads
        codec.thread_type = "SLICE" if self.options.decode_threads == 1 else "AUTO"
        if self.options.skip_nonref and self._can_skip(stream):
            # Frames no other frame refers to need not be decoded when most are dropped;
            # only the remaining frames can be sampled, so the rhythm may wobble by a frame.
            codec.skip_frame = "NONREF"

    def _can_skip(self, stream: av.video.VideoStream) -> bool:
        rate = stream.average_rate or stream.guessed_rate
        return rate is not None and self.options.analysis_fps <= float(rate) / 2

    def _release(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._recorder.snapshot().state not in ("failed", "stopped"):
            self._recorder.set_state("stopped")


class VideoFileSource(AvSource):
    """A recorded video file (mp4, mkv, avi, ...): read once from start to end."""

    kind = "video"
    live = False

    def _open(self) -> av.container.InputContainer:
        path = Path(self.target)
        if not path.exists():
            raise SourceError(f"{path}: no such file")
        if not path.is_file():
            raise SourceError(f"{path}: is not a file")
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: the file is empty (0 bytes)")
        try:
            return av.open(str(path), mode="r")
        except AV_ERRORS as exc:
            raise SourceError(
                f"{path}: is not a video that can be read, or is corrupt or truncated "
                f"({_reason(exc)})"
            ) from exc

    def _decode(self, container: av.container.InputContainer, sampler: Sampler) -> Iterator[Frame]:
        stream = self._stream
        clock = _FileClock(
            sampler,
            stream.time_base or UNIT,
            stream.average_rate or stream.guessed_rate or Fraction(25, 1),
            stream.start_time or 0,
            self._start_time(container),
        )
        last_pts: int | None = None  # of every packet, decoded or not
        try:
            for packet in container.demux(stream):
                if self._stop.is_set():
                    return
                if packet.pts is not None:
                    last_pts = packet.pts if last_pts is None else max(last_pts, packet.pts)
                if self._read(packet):
                    yield from self._hand_out(packet.decode(), clock)
        except AV_ERRORS as exc:
            raise self._damaged(clock.index, exc) from exc
        # A file cut at a packet boundary ends without an error: compare with its index
        # (the packets', as the frames after the last key frame may have been left undecoded).
        slack = MAX_SKIPPED_RUN if self._stream.codec_context.skip_frame == "NONREF" else 1
        seen_index = -1 if last_pts is None else clock.index_at(last_pts)
        if stream.frames and max(clock.index, seen_index) + 1 < stream.frames - slack:
            raise self._damaged(clock.index, None)

    def _damaged(self, last_index: int, exc: BaseException | None) -> SourceError:
        where = f"after frame {last_index}" if last_index >= 0 else "before its first frame"
        detail = f" ({_reason(exc)})" if exc is not None else ""
        message = f"{self.label}: video data is corrupt or truncated {where}{detail}"
        self._recorder.fail(message)
        return SourceError(message)

    def _start_time(self, container: av.container.InputContainer) -> float:
        """Wall-clock time of the first frame: when the recording began, as best known."""
        for metadata in (container.metadata, self._stream.metadata):
            created = metadata.get("creation_time")
            if created:
                try:
                    return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
                except ValueError:
                    log.warning("%s: unreadable creation_time %r ignored", self.label, created)
        duration = (container.duration or 0) / av.time_base
        return Path(self.target).stat().st_mtime - duration


class LiveSource(AvSource):
    """Shared reading of sources that never end on their own: network streams and devices."""

    live = True

    def _decode(self, container: av.container.InputContainer, sampler: Sampler) -> Iterator[Frame]:
        clock = _LiveClock(sampler, self._stream.time_base or UNIT)
        packets = container.demux(self._stream)
        while not self._stop.is_set():
            try:
                packet = next(packets)
            except StopIteration:
                raise self._dropped(clock.index, None) from None
            except AV_ERRORS as exc:
                if self._stop.is_set():
                    return
                raise self._dropped(clock.index, exc) from exc
            if not self._read(packet):
                continue
            try:
                decoded = packet.decode()
            except AV_ERRORS as exc:
                # A lost or damaged packet: the decoder recovers at the next key frame.
                self._recorder.error(f"{self.label}: damaged packet skipped ({_reason(exc)})")
                continue
            yield from self._hand_out(decoded, clock)

    def _dropped(self, index: int, exc: BaseException | None) -> SourceError:
        detail = _reason(exc) if exc is not None else "the stream ended"
        message = f"{self.label}: stream dropped after {index + 1} frames ({detail})"
        self._recorder.fail(message)
        return SourceError(message)

    def _open_av(self, url: str, **kwargs: Any) -> av.container.InputContainer:
        started = time.monotonic()
        try:
            container: av.container.InputContainer = av.open(
                url,
                mode="r",
                timeout=(self.options.open_timeout_s, self.options.read_timeout),
                **kwargs,
            )
        except AV_ERRORS as exc:
            waited = time.monotonic() - started
            if waited >= 0.9 * self.options.open_timeout_s:
                reason = f"no answer within {self.options.open_timeout_s:g} s"
            else:
                reason = _reason(exc)
            raise SourceError(f"{self.label}: cannot open the stream ({reason})") from exc
        return container


class NetworkSource(LiveSource):
    """An RTSP(S) camera or an HTTP(S) stream (MJPEG, HLS, progressive video)."""

    kind = "stream"

    def _open(self) -> av.container.InputContainer:
        options = {}
        if self.target.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = self.options.rtsp_transport
        return self._open_av(self.target, options=options)


class DeviceSource(LiveSource):
    """A local capture device such as a USB webcam (``/dev/video0``, Video4Linux2)."""

    kind = "device"

    def _open(self) -> av.container.InputContainer:
        if not Path(self.target).exists():
            raise SourceError(f"{self.target}: no such device")
        return self._open_av(self.target, format="v4l2")


class _Clock:
    """When each decoded frame was, and which frames are due (``sampler``); ``index`` is
    the last frame's number."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.index = -1

    def stamp(self, frame: av.VideoFrame) -> tuple[float, float]:
        """The time the sampler judges ``frame`` by and its timestamp; numbers the frame."""
        raise NotImplementedError

    @contextmanager
    def replaying(self, rest: _Rest) -> Iterator[None]:
        """While the frames after ``rest`` are read again: a file's frames carry their own
        times, so nothing changes."""
        yield


class _FileClock(_Clock):
    """A recording's time: its start plus each frame's presentation time."""

    def __init__(
        self, sampler: Sampler, time_base: Fraction, rate: Fraction, start_pts: int, origin: float
    ) -> None:
        super().__init__(sampler)
        self.time_base, self.rate, self.start_pts, self.origin = time_base, rate, start_pts, origin

    def stamp(self, frame: av.VideoFrame) -> tuple[float, float]:
        pts = frame.pts if frame.pts is not None else 0
        offset = float((pts - self.start_pts) * self.time_base)
        self.index = round(offset * self.rate) if frame.pts is not None else self.index + 1
        return offset, self.origin + offset

    def index_at(self, pts: int) -> int:
        return round((pts - self.start_pts) * self.time_base * self.rate)


class _LiveClock(_Clock):
    """A live stream's time: when each frame was decoded. Frames read again after a rewind
    were decoded late, and are stamped from the key frame they follow instead, by the
    difference of presentation times (the sampler restored to that key frame judges them
    on the same scale)."""

    def __init__(self, sampler: Sampler, time_base: Fraction) -> None:
        super().__init__(sampler)
        self.time_base = time_base
        self._after: _Rest | None = None

    def stamp(self, frame: av.VideoFrame) -> tuple[float, float]:
        self.index += 1
        if self._after is None or frame.pts is None:
            return time.monotonic(), time.time()
        later = float((frame.pts - self._after.pts) * self.time_base)
        return self._after.due_at + later, self._after.timestamp + later

    @contextmanager
    def replaying(self, rest: _Rest) -> Iterator[None]:
        self._after = rest
        try:
            yield
        finally:
            self._after = None


@dataclass(frozen=True, slots=True)
class _Rest:
    """A key frame handed out while reading key frames only: its number, the sampler as it
    was after it (what a rewind to it restores) and its times."""

    pts: int
    index: int
    sampler: Sampler
    due_at: float
    timestamp: float


def _bgr(frame: av.VideoFrame) -> ImageArray:
    return cast(ImageArray, frame.to_ndarray(format="bgr24"))


def _reason(exc: BaseException) -> str:
    """FFmpeg's words for an error, without the file name it repeats."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
