"""Property tests of image and video intake: whatever the bytes, a result or a clear error.

Photos come from people and videos from disks nobody checked, so the decoders get bytes
mutated from the real examples (flipped, truncated, spliced), headers crafted to claim huge
sizes, and the wrong magic. Every case must end in a decoded image (or frames) within the
pixel limit, or in :class:`ImageError` / :class:`SourceError` naming the source: never
another exception, never a hang (a deadline per example and a timeout per test), never a
buffer past the limit. Fixed seed (``derandomize``): the same cases on every run.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from watchkeeper.streams import SourceError, open_source
from watchkeeper.vision.imageio import ImageError, decode_image

REPO = Path(__file__).resolve().parents[2]
JPEG = (REPO / "examples" / "data" / "deepface-pairs" / "img1.jpg").read_bytes()
CLIP = REPO / "examples" / "data" / "video" / "facenet-pytorch-video.mp4"
MAX_PIXELS = 2_000_000
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=5000,  # ms per example: a decoder that loops is a failure, not a slow test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _png_of(jpeg: bytes) -> bytes:
    """A real photo as PNG (the examples hold JPEGs only), small so mutations decode fast."""
    with Image.open(io.BytesIO(jpeg)) as image:
        small = image.convert("RGB").resize((96, 96))
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


PNG = _png_of(JPEG)


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    """A real file with some bytes flipped, a piece cut, a piece spliced in, or cut short."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "splice", "truncate", "head"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 4096))]
        elif kind == "splice":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "truncate":
            del data[at:]
        else:  # rewrite a byte in the header, where sizes and offsets live
            data[min(at, 63)] = draw(st.integers(0, 255))
    return bytes(data)


def _check_image(data: bytes) -> None:
    try:
        image = decode_image(data, MAX_PIXELS, source="upload.jpg")
    except ImageError as exc:
        assert str(exc).startswith("upload.jpg: ")  # one line that names the file
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= MAX_PIXELS


@pytest.mark.timeout(300)
@FUZZ
@given(data=mutated((JPEG, PNG)))
def test_mutated_photos_decode_or_fail_with_an_image_error(data: bytes):
    _check_image(data)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.timeout(300)
@FUZZ
@given(
    width=st.integers(1, 2**31 - 1),
    height=st.integers(1, 2**31 - 1),
    rows=st.binary(max_size=256),
)
def test_a_png_header_claiming_any_size_is_refused_before_decoding(
    width: int, height: int, rows: bytes
):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows))
    png += _chunk(b"IEND", b"")
    _check_image(png)
    if width * height > MAX_PIXELS:
        with pytest.raises(ImageError, match="more than"):
            decode_image(png, MAX_PIXELS, source="upload.jpg")


@pytest.mark.timeout(300)
@FUZZ
@given(width=st.integers(0, 65535), height=st.integers(0, 65535))
def test_a_jpeg_frame_header_claiming_any_size_is_refused_or_decoded(width: int, height: int):
    data = bytearray(JPEG)
    sof = next(data.find(m) for m in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1") if m in data)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    _check_image(bytes(data))


@pytest.mark.timeout(120)
@FUZZ
@given(head=st.binary(max_size=64), rest=st.sampled_from([b"", JPEG[64:], PNG[64:]]))
def test_wrong_magic_is_an_image_error(head: bytes, rest: bytes):
    data = head + rest
    if data[:2] == b"\xff\xd8" or data[:4] == b"\x89PNG":
        return  # a right magic by chance: covered above
    _check_image(data)


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The first frames of the real clip, re-encoded small, so that each mutation is quick."""
    path = tmp_path_factory.mktemp("clip") / "small.mp4"
    with av.open(str(CLIP)) as source, av.open(str(path), mode="w") as target:
        stream = target.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        for i, frame in enumerate(source.decode(video=0)):
            if i >= 12:
                break
            pixels = frame.to_ndarray(width=160, height=90, format="rgb24")
            small = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            small.pts = i
            target.mux(stream.encode(small))
        target.mux(stream.encode(None))
    return path.read_bytes()


def _frames(path: Path) -> Iterator[np.ndarray]:
    source = open_source(str(path), "fuzz", analysis_fps=100, max_image_pixels=MAX_PIXELS)
    try:
        for i, frame in enumerate(source.frames()):
            yield frame.image
            if i >= 30:
                return
    finally:
        source.close()


def test_the_unmutated_small_clip_decodes(small_clip: bytes, tmp_path: Path):
    """The seed of the video cases is itself readable: the mutations start from a video."""
    path = tmp_path / "video.mp4"
    path.write_bytes(small_clip)
    assert len(list(_frames(path))) >= 10


@pytest.mark.timeout(300)
@FUZZ
@given(data=st.data())
def test_mutated_videos_yield_frames_or_fail_with_a_source_error(
    small_clip: bytes, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
):
    blob = data.draw(mutated((small_clip, CLIP.read_bytes()[:65536])))
    path = tmp_path_factory.mktemp("case") / "video.mp4"
    path.write_bytes(blob)
    try:
        for image in _frames(path):
            assert image.ndim == 3 and image.shape[0] * image.shape[1] <= MAX_PIXELS
    except SourceError as exc:
        assert "video.mp4" in str(exc)  # names the file
