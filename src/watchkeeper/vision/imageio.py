"""Safe image decoding: bytes or files in, upright 3-channel BGR arrays out.

Images come from people (enrolment photos, probe images) and folders on disk, so anything may
arrive: a PDF, an empty file, a truncated JPEG, or a 20000×20000 PNG whose pixels would take
gigabytes. The pixel count is read from the header and checked *before* any pixel is
decoded, and every refusal is an :class:`ImageError` whose one-line message says what is
wrong with which file.

Phone photos store their orientation in EXIF instead of rotating the pixels; it is applied
here so that faces are upright for the detector.

Example::

    image = read_image(Path("photo.jpg"), max_pixels=50_000_000)  # H×W×3 BGR uint8
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from watchkeeper.domain import ImageArray

FORMATS_HINT = "JPEG, PNG, WebP, BMP, TIFF or GIF"


class ImageError(ValueError):
    """An image that cannot or must not be decoded; the message names the file and the fault."""


def decode_image(data: bytes, max_pixels: int, source: str = "image") -> ImageArray:
    """Decode an encoded image (JPEG, PNG, ...) held in memory; ``source`` names it in errors."""
    if not data:
        raise ImageError(f"{source}: the file is empty (0 bytes); supply a {FORMATS_HINT} image")
    return _decode(io.BytesIO(data), max_pixels, source)


def read_image(path: Path, max_pixels: int) -> ImageArray:
    """Decode an image file; the file is streamed, so a huge non-image is never read whole."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: is not a file; give the path of an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); supply a {FORMATS_HINT} image")
    with path.open("rb") as stream:
        return _decode(stream, max_pixels, str(path))


def encode_jpeg(image: ImageArray, quality: int = 90) -> bytes:
    """Encode a BGR (or grayscale) uint8 image as JPEG, e.g. to store a face crop."""
    if not 1 <= quality <= 100:
        raise ImageError(f"JPEG quality must be between 1 and 100, not {quality}")
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ImageError(
            f"cannot encode an image of shape {image.shape} and type {image.dtype} as JPEG; "
            "expected a non-empty H×W×3 BGR uint8 array"
        )
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError(f"OpenCV could not encode an image of shape {image.shape} as JPEG")
    return buffer.tobytes()


def _decode(stream: BinaryIO, max_pixels: int, source: str) -> ImageArray:
    try:
        with Image.open(stream) as img:
            # Image.open reads only the header: the size is known, no pixel is decoded yet.
            width, height = img.size
            if width * height > max_pixels:
                raise ImageError(_too_large(source, width, height, max_pixels))
            upright = ImageOps.exif_transpose(img)
            rgb = upright.convert("RGB")
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fires inside Image.open, before our check, for sizes past twice
        # its limit (~179 Mpx): the size is then only in Pillow's message.
        limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0))
        raise ImageError(
            f"{source}: has more than {limit:,} pixels, the most allowed "
            f"(streams.max_image_pixels); scale the image down first ({exc})"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{source}: is not an image that can be read; supply a {FORMATS_HINT} file"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{source}: image data is corrupt or truncated ({exc})") from exc
    bgr = np.asarray(rgb, dtype=np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(bgr)


def _too_large(source: str, width: int, height: int, max_pixels: int) -> str:
    return (
        f"{source}: {width}×{height} is {width * height:,} pixels, more than the {max_pixels:,} "
        "allowed (streams.max_image_pixels); scale the image down first"
    )
