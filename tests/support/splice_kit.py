"""Spliced footage for the tests of tracks that must never mix two people.

The bundled arcade clip's first two seconds, then — as at a cut in an edited recording or a
camera jumping to another preset — the rest of the clip *shifted*, so that at the cut a
different person's face (``SECOND``, who walks on in the second segment) sits where the
first segment's clearest face had just been. A tracker that follows boxes alone carries that
track across the cut, and its best-quality frames all belong to the first person.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from support.video import write_h264
from watchkeeper.demo import CLIP
from watchkeeper.domain import ImageArray
from watchkeeper.vision.imageio import encode_jpeg

CUT = 50  # the first frame of the second segment (2 s at 25 fps; analysed at 5 frames/s)
SHIFT = (-114, -371)  # rows, columns: puts the person at (947, 714) where (596, 609) was
SECOND_FRAME = 75  # a frame of the second segment that shows SECOND clearly
SECOND_REGION = (slice(470, 820), slice(380, 700))  # rows, columns around SECOND there


def _frames() -> list[ImageArray]:
    with av.open(str(CLIP)) as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def spliced_clip(path: Path) -> Path:
    """Write the spliced clip (H.264, 25 fps, 1080p) to ``path`` once; return it."""
    if path.exists():
        return path
    frames = _frames()
    shifted = (
        np.roll(image, SHIFT, axis=(0, 1)) if index >= CUT else image
        for index, image in enumerate(frames)
    )
    return write_h264(path, shifted, crf=20)


def second_person_jpeg(spliced: Path) -> bytes:
    return encode_jpeg(second_person_photo(spliced))


def second_person_photo(spliced: Path) -> ImageArray:
    """A "photo" of the person who appears only after the cut, cut from the spliced clip."""
    with av.open(str(spliced)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == SECOND_FRAME:
                image = frame.to_ndarray(format="bgr24")
                return np.ascontiguousarray(image[SECOND_REGION])
    raise AssertionError(f"{spliced} has no frame {SECOND_FRAME}")
