"""Short-lived person tracks: just enough memory to see a person cross a counting line.

A line crossing needs to know where a person stood in the previous analysed frame, so boxes
are paired from frame to frame by overlap (greedy, best pairs first, with the face tracker's
box geometry from :mod:`watchkeeper.vision.boxes`, without its face-specific parts). A track
remembers only its last box: no history, no appearance, nothing that could be linked back to
a person. A track lives at most ``max_age`` frames (the zone's smoothing window); then it is
given a new number, so no identity longer than the window ever exists (its last box is kept,
so a crossing at that very frame is still counted)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from watchkeeper.crowd.tiling import People
from watchkeeper.domain import FloatArray
from watchkeeper.vision.boxes import iou_matrix


@dataclass(slots=True)
class PersonTrack:
    track_id: int
    box: FloatArray
    age: int = 0  # analysed frames since the track began
    missed: int = 0


@dataclass(frozen=True, slots=True)
class Moves:
    """Where each person paired with a track stood before and stands now (feet, pixels)."""

    before: FloatArray  # (K, 2)
    after: FloatArray  # (K, 2)


class PersonTracker:
    """Pairs one frame's people with the previous frame's; returns their moves."""

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 2, max_age: int = 25) -> None:
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.max_age = max_age
        self.tracks: list[PersonTrack] = []
        self._ids = itertools.count(1)

    def update(self, people: People) -> Moves:
        boxes = people.boxes
        affinity = iou_matrix(
            np.array([t.box for t in self.tracks], np.float32).reshape(-1, 4), boxes
        )
        pairs: list[tuple[int, int]] = []
        if affinity.size:
            order = np.argsort(-affinity, axis=None)
            used_tracks: set[int] = set()
            used_people: set[int] = set()
            for flat in order:
                t, p = divmod(int(flat), affinity.shape[1])
                if affinity[t, p] < self.iou_threshold:
                    break
                if t in used_tracks or p in used_people:
                    continue
                used_tracks.add(t)
                used_people.add(p)
                pairs.append((t, p))
        before = np.array([_foot(self.tracks[t].box) for t, _ in pairs], np.float32).reshape(-1, 2)
        after = np.array([_foot(boxes[p]) for _, p in pairs], np.float32).reshape(-1, 2)
        paired_tracks = {t for t, _ in pairs}
        paired_people = {p for _, p in pairs}
        kept: list[PersonTrack] = []
        for index, track in enumerate(self.tracks):
            if index in paired_tracks:
                track.box = boxes[dict(pairs)[index]].copy()
                track.missed = 0
            else:
                track.missed += 1
            track.age += 1
            if track.age >= self.max_age:
                track.track_id, track.age = next(self._ids), 0
            if track.missed <= self.max_missed:
                kept.append(track)
        for p in range(len(boxes)):
            if p not in paired_people:
                kept.append(PersonTrack(next(self._ids), boxes[p].copy()))
        self.tracks = kept
        return Moves(before, after)


def _foot(box: FloatArray) -> tuple[float, float]:
    return float((box[0] + box[2]) / 2), float(box[3])
