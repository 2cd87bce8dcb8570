"""H.264 test videos written from pictures (BGR arrays), as the tests' cameras send them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np


def write_h264(
    path: Path,
    pictures: Iterable[np.ndarray],
    rate: int = 25,
    key_interval: int | None = None,
    crf: int | None = None,
) -> Path:
    """``pictures`` (all of one size) encoded at ``rate`` frames/s into ``path``; a key frame
    every ``key_interval`` frames (x264's default: every 250), at x264's ``crf`` quality."""
    frames = iter(pictures)
    first = next(frames)
    options = {"preset": "ultrafast"}
    if key_interval is not None:
        options["g"] = str(key_interval)
    if crf is not None:
        options["crf"] = str(crf)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        for picture in itertools.chain([first], frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path
