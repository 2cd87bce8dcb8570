"""Safe image decoding: refusals with clear messages, and every image upright BGR."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from watchkeeper.vision.imageio import ImageError, decode_image, encode_jpeg, read_image

DATA = Path(__file__).parents[3] / "examples" / "data"
LIMIT = 50_000_000


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **kwargs)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a size but whose pixel data is a few bytes of nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_real_photo_decodes_to_bgr_uint8() -> None:
    image = read_image(DATA / "deepface-pairs" / "img1.jpg", LIMIT)
    assert image.ndim == 3 and image.shape[2] == 3
    assert image.dtype == np.uint8
    assert image.flags["C_CONTIGUOUS"]


def test_channels_are_in_bgr_order() -> None:
    red = Image.new("RGB", (4, 4), (255, 0, 0))
    image = decode_image(png_bytes(red), LIMIT)
    assert image[0, 0].tolist() == [0, 0, 255]


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "1"])
def test_any_colour_mode_comes_out_three_channel(mode: str) -> None:
    picture = Image.new(mode, (6, 5))
    data = jpeg_bytes(picture) if mode == "CMYK" else png_bytes(picture)
    image = decode_image(data, LIMIT)
    assert image.shape == (5, 6, 3)
    assert image.dtype == np.uint8


def test_exif_orientation_is_applied_so_phone_photos_are_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    data = jpeg_bytes(Image.new("RGB", (40, 20), (0, 128, 0)), exif=exif)
    assert decode_image(data, LIMIT).shape == (40, 20, 3)


def test_huge_image_is_refused_from_its_header_before_decoding() -> None:
    data = png_header_only(20_000, 20_000)
    started = time.perf_counter()
    with pytest.raises(ImageError, match=r"pixels"):
        decode_image(data, LIMIT, source="big.png")
    assert time.perf_counter() - started < 0.5


def test_image_over_the_configured_limit_is_refused_with_its_size() -> None:
    data = png_header_only(3_000, 2_000)
    with pytest.raises(ImageError, match=r"big\.png: 3000×2000 is 6,000,000 pixels, more than"):
        decode_image(data, max_pixels=1_000_000, source="big.png")


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(ImageError, match=r"upload\.jpg: the file is empty"):
        decode_image(b"", LIMIT, source="upload.jpg")


def test_zero_byte_file_is_refused() -> None:
    empty = DATA / "facenet-pytorch" / "test_images" / "bradley_cooper" / "1.jpg"
    with pytest.raises(ImageError, match=r"1\.jpg: the file is empty"):
        read_image(empty, LIMIT)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"nothere\.jpg: no such file"):
        read_image(tmp_path / "nothere.jpg", LIMIT)


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"is not a file"):
        read_image(tmp_path, LIMIT)


@pytest.mark.parametrize(
    "content",
    [b"name,score\nalice,0.9\n", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"],
    ids=["text", "pdf"],
)
def test_non_image_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=r"photo\.jpg: is not an image that can be read"):
        read_image(path, LIMIT)


def test_video_file_is_refused_as_not_an_image() -> None:
    data = (DATA / "video" / "facenet-pytorch-video.mp4").read_bytes()[:65536]
    with pytest.raises(ImageError, match=r"clip\.mp4: is not an image"):
        decode_image(data, LIMIT, source="clip.mp4")


def test_truncated_jpeg_is_refused_as_corrupt() -> None:
    data = (DATA / "deepface-pairs" / "img1.jpg").read_bytes()
    with pytest.raises(ImageError, match=r"cut\.jpg: image data is corrupt or truncated"):
        decode_image(data[: len(data) // 2], LIMIT, source="cut.jpg")


def test_truncated_png_is_refused_as_corrupt() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = png_bytes(Image.fromarray(noise))
    with pytest.raises(ImageError, match=r"corrupt or truncated"):
        decode_image(data[: len(data) // 2], LIMIT, source="cut.png")


def test_jpeg_encoding_round_trips() -> None:
    image = np.zeros((30, 40, 3), np.uint8)
    image[:, :20] = (255, 0, 0)
    decoded = decode_image(encode_jpeg(image, quality=95), LIMIT)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 4


def test_jpeg_encoding_refuses_a_non_image_array() -> None:
    with pytest.raises(ImageError, match=r"expected a non-empty H×W×3 BGR uint8 array"):
        encode_jpeg(np.zeros((4, 4, 3), np.float32))


def test_jpeg_quality_out_of_range_is_refused() -> None:
    with pytest.raises(ImageError, match=r"between 1 and 100"):
        encode_jpeg(np.zeros((4, 4, 3), np.uint8), quality=0)
