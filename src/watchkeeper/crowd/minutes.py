"""Per-zone, per-minute aggregates: the only thing counting ever keeps.

Readings arrive per analysed frame; the aggregator folds them into one row per zone and
wall-clock minute (mean and peak people, peak density, crossings each way, frames counted)
and hands a minute over once a reading of a later minute arrives (or at :meth:`flush`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from watchkeeper.crowd.counting import ZoneReading


@dataclass(slots=True)
class MinuteAggregate:
    """One zone over one minute; ``minute`` is the minute's start in epoch seconds."""

    zone: str
    minute: float
    samples: int = 0
    people_sum: float = 0.0
    people_max: float = 0.0
    density_max: float | None = None
    entered: int = 0
    left: int = 0

    @property
    def people_mean(self) -> float:
        return self.people_sum / self.samples if self.samples else 0.0

    def add(self, reading: ZoneReading) -> None:
        self.samples += 1
        self.people_sum += reading.smoothed
        self.people_max = max(self.people_max, reading.smoothed)
        if reading.density is not None:
            self.density_max = max(self.density_max or 0.0, reading.density)
        self.entered += reading.entered
        self.left += reading.left


class MinuteAggregator:
    """Folds readings into per-minute aggregates; returns the minutes that are complete."""

    def __init__(self) -> None:
        self._open: dict[str, MinuteAggregate] = {}

    def add(self, readings: list[ZoneReading]) -> list[MinuteAggregate]:
        done: list[MinuteAggregate] = []
        for reading in readings:
            minute = math.floor(reading.at / 60) * 60.0
            current = self._open.get(reading.zone)
            if current is not None and current.minute != minute:
                done.append(current)
                current = None
            if current is None:
                current = self._open[reading.zone] = MinuteAggregate(reading.zone, minute)
            current.add(reading)
        return done

    def flush(self) -> list[MinuteAggregate]:
        """The minutes still open (at the end of a source), then forget them."""
        done = list(self._open.values())
        self._open.clear()
        return done
