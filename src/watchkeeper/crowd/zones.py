"""Zones: where on a camera's picture people are counted, and the limits that make an alert.

A zone is a polygon in fractions of the picture (0..1 from the top-left), so it survives a
change of stream resolution. Its area in m² (optional) turns a count into a density. Counting
lines (optional) count people crossing them, each way: *in* is crossing from the left of the
line to its right as seen walking from its first point to its second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from watchkeeper.domain import FloatArray

Point = tuple[float, float]


class ZoneError(ValueError):
    """A zone definition that cannot be used; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class CountingLine:
    """A line people cross; ``a`` → ``b`` in picture fractions, *in* means left to right."""

    name: str
    a: Point
    b: Point

    def crossings(
        self, before: FloatArray, after: FloatArray, size: tuple[int, int]
    ) -> tuple[int, int]:
        """(in, out) crossings of the moves ``before[i]`` → ``after[i]`` (pixels, (N,2))."""
        if len(before) == 0:
            return 0, 0
        width, height = size
        a = np.array([self.a[0] * width, self.a[1] * height], np.float64)
        b = np.array([self.b[0] * width, self.b[1] * height], np.float64)
        side_before = _side(a, b, before)
        side_after = _side(a, b, after)
        # the move must also cross the segment itself, not its extension
        move_a = _side(before, after, a)
        move_b = _side(before, after, b)
        crossed = (side_before * side_after < 0) & (move_a * move_b < 0)
        entered = int(np.sum(crossed & (side_before < 0)))
        return entered, int(np.sum(crossed)) - entered


def _side(a: Any, b: Any, p: Any) -> np.ndarray:
    """Sign of the cross product (b−a)×(p−a): > 0 right of a→b in image coordinates (y down)."""
    a, b, p = np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(p, np.float64)
    d = b - a
    q = p - a
    return np.sign(d[..., 0] * q[..., 1] - d[..., 1] * q[..., 0])


@dataclass(frozen=True, slots=True)
class ZoneLimits:
    """When a zone is unsafe; None: no limit of that kind."""

    max_people: int | None = None
    max_density: float | None = None  # people per m²; needs the zone's area
    max_inflow_per_min: int | None = None  # crossings *in* over all its lines, last 60 s


@dataclass(frozen=True, slots=True)
class Zone:
    """One counted area of one camera's picture."""

    name: str
    polygon: tuple[Point, ...]
    area_m2: float | None = None
    lines: tuple[CountingLine, ...] = ()
    limits: ZoneLimits = field(default_factory=ZoneLimits)
    zone_id: int | None = None  # the store's id, once stored

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ZoneError("a zone needs a name")
        if len(self.polygon) < 3:
            raise ZoneError(f"zone '{self.name}': a polygon needs at least 3 points")
        for line in self.lines:
            if line.a == line.b:
                raise ZoneError(f"zone '{self.name}': line '{line.name}' has two equal ends")
        points = [*self.polygon, *(p for line in self.lines for p in (line.a, line.b))]
        for x, y in points:
            if not (0 <= x <= 1 and 0 <= y <= 1) or math.isnan(x) or math.isnan(y):
                raise ZoneError(
                    f"zone '{self.name}': point ({x}, {y}) is outside the picture; give "
                    "points as fractions of width and height, 0..1 from the top-left"
                )
        if _shoelace(self.polygon) < 1e-6:
            raise ZoneError(f"zone '{self.name}': the polygon encloses no area")
        if self.area_m2 is not None and not self.area_m2 > 0:
            raise ZoneError(f"zone '{self.name}': area_m2 must be > 0, not {self.area_m2}")
        if self.limits.max_density is not None and self.area_m2 is None:
            raise ZoneError(
                f"zone '{self.name}': a density limit needs the zone's area_m2 to be known"
            )
        if self.limits.max_inflow_per_min is not None and not self.lines:
            raise ZoneError(f"zone '{self.name}': an inflow limit needs at least one counting line")

    def contains(self, points: FloatArray, size: tuple[int, int]) -> np.ndarray:
        """Which of the pixel ``points`` (N,2) lie inside the zone, for a picture of ``size``."""
        if len(points) == 0:
            return np.zeros(0, bool)
        width, height = size
        poly = np.array(self.polygon, np.float64) * np.array([width, height], np.float64)
        x, y = points[:, 0][:, None], points[:, 1][:, None]
        x1, y1 = poly[:, 0][None, :], poly[:, 1][None, :]
        x2, y2 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
        straddles = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        return np.asarray(np.sum(straddles & (x < x_cross), axis=1) % 2 == 1)

    def bounds(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The pixel box x1, y1, x2, y2 around the zone and its lines."""
        width, height = size
        points = [*self.polygon, *(p for line in self.lines for p in (line.a, line.b))]
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        return (
            math.floor(min(xs) * width),
            math.floor(min(ys) * height),
            math.ceil(max(xs) * width),
            math.ceil(max(ys) * height),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "polygon": [list(p) for p in self.polygon],
            "area_m2": self.area_m2,
            "lines": [{"name": ln.name, "a": list(ln.a), "b": list(ln.b)} for ln in self.lines],
            "limits": {
                "max_people": self.limits.max_people,
                "max_density": self.limits.max_density,
                "max_inflow_per_min": self.limits.max_inflow_per_min,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], zone_id: int | None = None) -> Zone:
        """A zone from its JSON form (CLI file, API body, store row); errors name the part."""
        try:
            limits = data.get("limits") or {}
            return cls(
                name=str(data["name"]),
                polygon=tuple(_point(p) for p in data["polygon"]),
                area_m2=None if data.get("area_m2") is None else float(data["area_m2"]),
                lines=tuple(
                    CountingLine(str(ln["name"]), _point(ln["a"]), _point(ln["b"]))
                    for ln in data.get("lines") or ()
                ),
                limits=ZoneLimits(
                    max_people=_optional(limits.get("max_people"), int),
                    max_density=_optional(limits.get("max_density"), float),
                    max_inflow_per_min=_optional(limits.get("max_inflow_per_min"), int),
                ),
                zone_id=zone_id,
            )
        except ZoneError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ZoneError(
                f"zone definition is not usable ({type(exc).__name__}: {exc}); expected "
                '{"name": ..., "polygon": [[x, y], ...], "area_m2": ..., '
                '"lines": [{"name": ..., "a": [x, y], "b": [x, y]}], "limits": {...}}'
            ) from exc


def union_bounds(zones: list[Zone], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The pixel box around all zones: the one region the person detector looks at."""
    boxes = [zone.bounds(size) for zone in zones]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def whole_picture(name: str = "whole picture") -> Zone:
    """A zone covering everything: what ``run --crowd`` counts when no zone is given."""
    return Zone(name, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))


def _point(value: Any) -> Point:
    x, y = value
    return float(x), float(y)


def _optional(value: Any, kind: type) -> Any:
    if value is None:
        return None
    converted = kind(value)
    if converted < 0:
        raise ZoneError(f"a limit must not be negative, not {value}")
    return converted


def _shoelace(polygon: tuple[Point, ...]) -> float:
    xs = np.array([p[0] for p in polygon])
    ys = np.array([p[1] for p in polygon])
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2)
