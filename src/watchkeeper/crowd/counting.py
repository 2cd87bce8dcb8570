"""Counting per analysed frame: people per zone (smoothed), density, and line crossings.

One :class:`CrowdCounter` per camera. Each analysed frame goes through the tiled person
detector once (over the box around all zones), each person is placed in a zone by where their
feet are, the count is smoothed by a running mean over the last few frames (a person hidden
for a frame behind another should not make the count flicker), and line crossings come from
the short-lived tracks. What leaves is a :class:`ZoneReading` per zone: numbers only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from watchkeeper.crowd.tiling import People, TiledDetector
from watchkeeper.crowd.tracking import PersonTracker
from watchkeeper.crowd.zones import Zone, union_bounds
from watchkeeper.domain import ImageArray


@dataclass(frozen=True, slots=True)
class ZoneReading:
    """One zone at one analysed frame: counts only."""

    zone: str
    at: float  # seconds (the frame's timestamp)
    people: int  # seen in this frame
    smoothed: float  # running mean over the smoothing window
    density: float | None  # smoothed people per m², when the area is known
    entered: int  # line crossings in, this frame
    left: int  # line crossings out, this frame


class CrowdCounter:
    """The counting state of one camera: its zones, tracker and smoothing windows."""

    def __init__(self, zones: list[Zone], detector: TiledDetector, smoothing: int = 5) -> None:
        if not zones:
            raise ValueError("a crowd counter needs at least one zone")
        if smoothing < 1:
            raise ValueError(f"the smoothing window must be ≥ 1 frame, not {smoothing}")
        self.zones = zones
        self.detector = detector
        self.smoothing = smoothing
        self.tracker = PersonTracker(max_age=smoothing)
        self._recent = {zone.name: deque[int](maxlen=smoothing) for zone in zones}

    def count(self, image: ImageArray, at: float) -> tuple[list[ZoneReading], People]:
        """Readings for every zone, and the people found (for a live view, never stored)."""
        size = (image.shape[1], image.shape[0])
        people = self.detector.detect(image, union_bounds(self.zones, size))
        return self.readings(people, size, at), people

    def readings(self, people: People, size: tuple[int, int], at: float) -> list[ZoneReading]:
        """The counting step on already detected people (split out so it can be tested)."""
        moves = self.tracker.update(people)
        # a person cut off by the picture's bottom edge stands on it: keep their feet inside,
        # or a zone that reaches the edge would miss exactly the people closest to the camera
        feet = np.clip(people.feet, 0, np.array(size, np.float32) - 1)
        readings = []
        for zone in self.zones:
            present = int(np.sum(zone.contains(feet, size)))
            recent = self._recent[zone.name]
            recent.append(present)
            smoothed = float(np.mean(recent))
            entered = left = 0
            for line in zone.lines:
                into, out = line.crossings(moves.before, moves.after, size)
                entered += into
                left += out
            density = smoothed / zone.area_m2 if zone.area_m2 else None
            readings.append(
                ZoneReading(zone.name, at, present, round(smoothed, 2), density, entered, left)
            )
        return readings
