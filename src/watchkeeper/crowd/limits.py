"""Zone limits with hysteresis: one surge is one alert.

A count hovering around a limit would otherwise raise an alert at every frame it crosses.
A limit *trips* when the value goes above it and *re-arms* only once the value has fallen below
``release`` × the limit (default 80 %); in between, nothing new is raised. Inflow is the number
of crossings *in* over the zone's lines within the last 60 seconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from watchkeeper.crowd.counting import ZoneReading
from watchkeeper.crowd.zones import Zone

KINDS = ("people", "density", "inflow")
INFLOW_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Breach:
    """A zone limit that has just been passed."""

    zone: str
    kind: str  # one of KINDS
    value: float
    limit: float
    at: float  # seconds (the frame's timestamp)


@dataclass(frozen=True, slots=True)
class Release:
    """A tripped limit whose value fell back below the release level."""

    zone: str
    kind: str
    value: float
    at: float
    peak: float  # the highest value during the surge


class LimitWatcher:
    """Watches the readings of one camera's zones against their limits."""

    def __init__(self, zones: list[Zone], release: float = 0.8) -> None:
        if not 0 < release < 1:
            raise ValueError(f"release must be between 0 and 1, not {release}")
        self.zones = {zone.name: zone for zone in zones}
        self.release = release
        self._tripped: dict[tuple[str, str], float] = {}  # tripped limit → peak so far
        self._inflow: dict[str, deque[tuple[float, int]]] = {z.name: deque() for z in zones}

    def inflow(self, zone: str, at: float) -> int:
        window = self._inflow[zone]
        while window and window[0][0] <= at - INFLOW_WINDOW_S:
            window.popleft()
        return sum(n for _, n in window)

    def check(self, readings: list[ZoneReading]) -> tuple[list[Breach], list[Release]]:
        breaches: list[Breach] = []
        releases: list[Release] = []
        for reading in readings:
            zone = self.zones[reading.zone]
            if reading.entered:
                self._inflow[zone.name].append((reading.at, reading.entered))
            values: dict[str, tuple[float | None, float | None]] = {
                "people": (reading.smoothed, zone.limits.max_people),
                "density": (reading.density, zone.limits.max_density),
                "inflow": (
                    float(self.inflow(zone.name, reading.at)),
                    zone.limits.max_inflow_per_min,
                ),
            }
            for kind, (value, limit) in values.items():
                if value is None or limit is None:
                    continue
                key = (zone.name, kind)
                if key not in self._tripped and value > limit:
                    self._tripped[key] = value
                    breaches.append(Breach(zone.name, kind, value, float(limit), reading.at))
                elif key in self._tripped:
                    self._tripped[key] = max(self._tripped[key], value)
                    if value < self.release * limit:
                        peak = self._tripped.pop(key)
                        releases.append(Release(zone.name, kind, value, reading.at, peak))
        return breaches, releases
