"""Zones place people by their feet, count line crossings each way and refuse bad shapes."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.crowd.zones import CountingLine, Zone, ZoneError, ZoneLimits, union_bounds

SIZE = (1000, 500)
LEFT_HALF = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))


def test_a_point_is_inside_the_polygon_it_lies_in_and_outside_the_others() -> None:
    zone = Zone("left", LEFT_HALF)
    points = np.array([[100, 250], [600, 250], [499, 10]], np.float32)
    assert zone.contains(points, SIZE).tolist() == [True, False, True]


def test_a_triangle_excludes_the_corner_it_cuts_off() -> None:
    zone = Zone("triangle", ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)))
    points = np.array([[100, 100], [900, 450]], np.float32)
    assert zone.contains(points, SIZE).tolist() == [True, False]


def test_crossing_a_line_left_to_right_counts_in_and_back_counts_out() -> None:
    # a horizontal line from left to right: its left side is above it (y down)
    line = CountingLine("door", (0.2, 0.5), (0.8, 0.5))
    before = np.array([[500, 200], [500, 300], [100, 200]], np.float32)
    after = np.array([[500, 300], [500, 200], [100, 300]], np.float32)
    # first walks down (in), second up (out), third passes beside the segment (neither)
    assert line.crossings(before, after, SIZE) == (1, 1)


def test_a_move_that_stays_on_one_side_is_no_crossing() -> None:
    line = CountingLine("door", (0.2, 0.5), (0.8, 0.5))
    before = np.array([[500, 100]], np.float32)
    after = np.array([[520, 200]], np.float32)
    assert line.crossings(before, after, SIZE) == (0, 0)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"name": "z", "polygon": [[0, 0], [1, 0]]}, "at least 3 points"),
        ({"name": "z", "polygon": [[0, 0], [2, 0], [0, 1]]}, "outside the picture"),
        ({"name": "z", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}, "no area"),
        ({"name": "z", "polygon": LEFT_HALF, "limits": {"max_density": 2}}, "area_m2"),
        ({"name": "z", "polygon": LEFT_HALF, "limits": {"max_inflow_per_min": 5}}, "line"),
        ({"name": "z", "polygon": LEFT_HALF, "area_m2": -3}, "area_m2 must be > 0"),
        ({"name": "z"}, "polygon"),
    ],
)
def test_an_unusable_zone_is_refused_with_the_reason(data: dict, words: str) -> None:
    with pytest.raises(ZoneError, match=words):
        Zone.from_dict(data)


def test_a_zone_survives_its_json_form() -> None:
    zone = Zone(
        "gate",
        LEFT_HALF,
        area_m2=40.0,
        lines=(CountingLine("in", (0.1, 0.9), (0.4, 0.9)),),
        limits=ZoneLimits(max_people=30, max_density=2.0, max_inflow_per_min=60),
    )
    assert Zone.from_dict(zone.to_dict()) == zone


def test_the_detector_looks_only_at_the_box_around_all_zones() -> None:
    a = Zone("a", ((0.1, 0.2), (0.3, 0.2), (0.3, 0.4)))
    b = Zone("b", ((0.5, 0.5), (0.9, 0.5), (0.9, 0.8)))
    assert union_bounds([a, b], SIZE) == (100, 100, 900, 400)
