"""Cursors round-trip, and a cursor the API never gave out is a clear 400."""

import io

import numpy as np
import pytest
from PIL import Image

from watchkeeper.api.pagination import decode_cursor, encode_cursor
from watchkeeper.api.problems import ProblemError, image_error_status
from watchkeeper.vision.imageio import ImageError, decode_image


def test_a_cursor_round_trips_and_is_opaque():
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert "12345" not in encode_cursor(12345)


@pytest.mark.parametrize("cursor", ["!!", "", "bm90LWEtbnVtYmVy"])
def test_a_foreign_cursor_is_a_400(cursor):
    with pytest.raises(ProblemError) as caught:
        decode_cursor(cursor)
    assert caught.value.status == 400


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "max_pixels", "status"),
    [
        (b"hello, not an image", 10**6, 415),
        (b"", 10**6, 415),
        (_jpeg(), 100, 413),  # 1600 pixels, 100 allowed
        (_jpeg()[:200], 10**6, 422),  # truncated
    ],
)
def test_image_errors_map_to_415_413_or_422(data, max_pixels, status):
    with pytest.raises(ImageError) as caught:
        decode_image(data, max_pixels=max_pixels, source="upload")
    assert image_error_status(caught.value) == status
