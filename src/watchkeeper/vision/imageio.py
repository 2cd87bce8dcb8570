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


# JPEG segments that carry what the camera knew, not what it saw: EXIF and XMP (APP1: the GPS
# position, the device's serial number, the time), IPTC (APP13), comments (COM)
_JPEG_METADATA = {0xE1, 0xED, 0xFE}
# PNG chunks of the same kind: EXIF, text (tEXt/zTXt/iTXt: XMP lives there) and time
_PNG_METADATA = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}


def without_metadata(data: bytes, max_pixels: int, source: str = "image") -> bytes:
    """The photo as it should be stored: the same pixels, no EXIF, XMP, IPTC or comments.

    People's photos carry the GPS position of whoever took them; nothing of that belongs in
    a watchlist. JPEG and PNG keep their pixels bit for bit (only metadata segments or chunks
    are dropped). A JPEG whose EXIF rotates it is re-encoded upright (quality 95), since the
    rotation would go with the EXIF; other formats are re-encoded as PNG.
    """
    if data[:3] == b"\xff\xd8\xff" and _exif_orientation(data, max_pixels, source) in (None, 1):
        return _strip_jpeg(data, source)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _strip_png(data, source)
    rgb = decode_image(data, max_pixels, source)[:, :, ::-1]
    out = io.BytesIO()
    is_jpeg = data[:3] == b"\xff\xd8\xff"
    Image.fromarray(np.ascontiguousarray(rgb)).save(
        out, format="JPEG" if is_jpeg else "PNG", **({"quality": 95} if is_jpeg else {})
    )
    return out.getvalue()


def _exif_orientation(data: bytes, max_pixels: int, source: str) -> int | None:
    decode_image(data, max_pixels, source)  # the same refusals as the decoder, first
    with Image.open(io.BytesIO(data)) as img:
        value = img.getexif().get(0x0112)  # Orientation
    return value if isinstance(value, int) else None


def _strip_jpeg(data: bytes, source: str) -> bytes:
    out, at = bytearray(data[:2]), 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ImageError(f"{source}: JPEG structure is corrupt at byte {at}")
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the pixels and the rest of the file, kept as is
            out += data[at:]
            return bytes(out)
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if length < 2:
            raise ImageError(f"{source}: JPEG structure is corrupt at byte {at}")
        if marker not in _JPEG_METADATA:
            out += data[at : at + 2 + length]
        at += 2 + length
    raise ImageError(f"{source}: image data is corrupt or truncated (no JPEG scan found)")


def _strip_png(data: bytes, source: str) -> bytes:
    out, at = bytearray(data[:8]), 8
    while at + 12 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            break
        if kind not in _PNG_METADATA:
            out += data[at:end]
        at = end
        if kind == b"IEND":
            return bytes(out)
    raise ImageError(f"{source}: image data is corrupt or truncated (no PNG end found)")


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
