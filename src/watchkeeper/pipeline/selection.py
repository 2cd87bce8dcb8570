"""Which faces of a track are embedded: the best of each stretch of its life, and never none.

Why not simply the top-k by quality: the quality score is a heuristic (size, sharpness, pose,
detector confidence) that can rank a whole person below a threshold — small, compressed,
lit-from-above faces score 0.1 while the embedder still recognises them — and the top-k of a
track all come from its clearest moment, so a track that (wrongly) carries on from one person
to another only ever embeds the first. Here quality *ranks* faces and never vetoes them: a
track remembers the best face of every ``stretch_s`` seconds of its life (with its evidence
crop, so that a part of a split track has its own), and :meth:`Moments.spread` picks the best
face of each of ``k`` equal parts of that life, the clearest overall first.

A track that was lost for an analysed frame or more and found again begins a new moment, even
inside a stretch: the tracker follows boxes, so whoever it found may be someone else, and the
split check (``pipeline.split``) can only compare faces from different moments. On the demo
clip a track that lost a passer-by and found the missing person where they had been was one
sighting of the missing person from the passer-by's first frame on; it is now two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from watchkeeper.domain import ImageArray, Observation


@dataclass(slots=True)
class Moment:
    """The best face of one stretch of a track's life, and how much of the track it covers."""

    observation: Observation
    crop: ImageArray  # the evidence crop of that face (with margin), BGR
    first_frame: int
    last_frame: int
    started_at: float
    ended_at: float
    detections: int = 1

    @property
    def quality(self) -> float:
        return self.observation.quality


class Moments:
    """The best face of every stretch of one track's life, in time order."""

    def __init__(self, started_at: float, stretch_s: float) -> None:
        self.started_at = started_at
        self.stretch_s = stretch_s
        self._by_stretch: dict[tuple[int, int], Moment] = {}  # by (stretch, gaps before it)
        self._gaps = 0

    def __len__(self) -> int:
        return len(self._by_stretch)

    def __bool__(self) -> bool:
        return bool(self._by_stretch)

    def offer(
        self, observation: Observation, crop: Callable[[], ImageArray], after_gap: bool = False
    ) -> None:
        """Count a face of the track; keep it if it is the best of its stretch so far.

        ``crop`` cuts the evidence crop; it is called only for a face that is kept.
        ``after_gap``: the track was lost before this face, which then begins a new moment.
        """
        self._gaps += after_gap
        stretch = (int((observation.timestamp - self.started_at) // self.stretch_s), self._gaps)
        current = self._by_stretch.get(stretch)
        if current is None:
            self._by_stretch[stretch] = Moment(
                observation, crop(), observation.frame_index, observation.frame_index,
                observation.timestamp, observation.timestamp,
            )  # fmt: skip
            return
        current.detections += 1
        current.last_frame = observation.frame_index
        current.ended_at = observation.timestamp
        if observation.quality > current.quality:
            current.observation, current.crop = observation, crop()

    def in_order(self) -> list[Moment]:
        return [self._by_stretch[k] for k in sorted(self._by_stretch)]

    def best(self) -> Moment:
        return max(self.in_order(), key=lambda m: m.quality)

    def spread(self, k: int) -> list[Moment]:
        """The best moment of each of ``k`` equal parts of the track's life, best first."""
        ordered = self.in_order()
        if len(ordered) > k:
            parts = np.array_split(np.arange(len(ordered)), k)
            ordered = [max((ordered[i] for i in part), key=lambda m: m.quality) for part in parts]
        return sorted(ordered, key=lambda m: -m.quality)

    def clear(self) -> None:
        """Forget the faces (the aligned crops have served their purpose)."""
        self._by_stretch.clear()
