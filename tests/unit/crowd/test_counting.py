"""Counting: people per zone smoothed over a window, crossings each way, one alert per surge."""

from __future__ import annotations

import numpy as np

from watchkeeper.crowd.counting import CrowdCounter, ZoneReading
from watchkeeper.crowd.limits import LimitWatcher
from watchkeeper.crowd.minutes import MinuteAggregator
from watchkeeper.crowd.tiling import People, TiledDetector
from watchkeeper.crowd.tracking import PersonTracker
from watchkeeper.crowd.zones import CountingLine, Zone, ZoneLimits

SIZE = (1000, 500)
LEFT = Zone("left", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)), area_m2=10.0)
RIGHT = Zone(
    "right",
    ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)),
    lines=(CountingLine("mid", (0.5, 1.0), (0.5, 0.0)),),
    limits=ZoneLimits(max_inflow_per_min=1),
)


def people(*boxes: tuple[float, float, float, float]) -> People:
    array = np.array(boxes, np.float32).reshape(-1, 4)
    return People(array, np.full(len(array), 0.9, np.float32))


def counter(smoothing: int = 3) -> CrowdCounter:
    return CrowdCounter([LEFT, RIGHT], TiledDetector(detector=None), smoothing)  # type: ignore[arg-type]


def test_people_are_placed_in_the_zone_their_feet_are_in_and_give_density() -> None:
    readings = counter().readings(people((100, 100, 150, 300), (600, 100, 650, 300)), SIZE, 0.0)
    left, right = readings
    assert (left.people, right.people) == (1, 1)
    assert left.density == 0.1 and right.density is None


def test_the_count_is_a_running_mean_over_the_smoothing_window() -> None:
    count = counter(smoothing=3)
    seen = [
        count.readings(people(*boxes), SIZE, float(t))[0].smoothed
        for t, boxes in enumerate(
            [[(10, 0, 50, 100)] * 1, [(10, 0, 50, 100), (200, 0, 250, 100)], [], []]
        )
    ]
    assert seen == [1.0, 1.5, 1.0, 0.67]


def test_a_person_walking_across_the_line_is_one_crossing_in() -> None:
    count = counter()
    total_in = total_out = 0
    for t, x in enumerate(range(400, 600, 20)):
        right = count.readings(people((x, 100, x + 60, 300)), SIZE, float(t))[1]
        total_in += right.entered
        total_out += right.left
    # the line runs bottom to top at x=500: its left is the picture's left... seen walking
    # up the line, the right-hand side is x > 500, so walking left → right is "in"
    assert (total_in, total_out) == (1, 0)


def test_tracks_get_a_new_number_after_the_window_so_no_identity_outlives_it() -> None:
    tracker = PersonTracker(max_age=3)
    ids = []
    for _ in range(7):
        tracker.update(people((10, 10, 60, 110)))
        ids.append(tracker.tracks[0].track_id)
    assert len(set(ids)) >= 3
    assert len(tracker.tracks) == 1


def reading(value: float, at: float, zone: str = "left", entered: int = 0) -> ZoneReading:
    return ZoneReading(zone, at, round(value), value, value / 10.0, entered, 0)


def test_a_surge_that_hovers_around_the_limit_raises_one_breach_until_it_falls_back() -> None:
    zone = Zone(LEFT.name, LEFT.polygon, 10.0, limits=ZoneLimits(max_people=10))
    watcher = LimitWatcher([zone], release=0.8)
    series = [5, 9, 11, 9.5, 11, 12, 10.5, 7, 6, 11, 12]
    raised, released = [], []
    for t, value in enumerate(series):
        breaches, releases = watcher.check([reading(value, float(t))])
        raised += [b.at for b in breaches]
        released += [(r.at, r.peak) for r in releases]
    # first surge at t=2 (hovering ≥ 8 until t=6), it falls below 8 at t=7, second at t=9
    assert raised == [2.0, 9.0]
    assert released == [(7.0, 12.0)]  # the first surge ended at t=7; its peak was 12


def test_inflow_counts_crossings_in_over_the_last_minute() -> None:
    watcher = LimitWatcher([RIGHT])
    first, _ = watcher.check([reading(0, 0.0, "right", entered=1)])
    second, _ = watcher.check([reading(0, 30.0, "right", entered=1)])
    assert first == [] and [b.kind for b in second] == ["inflow"]
    assert watcher.inflow("right", 95.0) == 0


def test_minutes_hold_mean_peak_and_crossings_and_close_when_the_next_minute_starts() -> None:
    aggregator = MinuteAggregator()
    assert aggregator.add([reading(4, 60.0, entered=1), reading(6, 90.0)]) == []
    done = aggregator.add([reading(1, 125.0)])
    assert len(done) == 1
    minute = done[0]
    assert (minute.minute, minute.samples, minute.people_mean, minute.people_max) == (
        60.0,
        2,
        5.0,
        6.0,
    )
    assert minute.entered == 1 and minute.density_max == 0.6
    assert [m.minute for m in aggregator.flush()] == [120.0]


def test_a_person_cut_off_by_the_bottom_edge_counts_in_a_zone_reaching_that_edge() -> None:
    readings = counter().readings(people((100, 300, 200, 500)), SIZE, 0.0)
    assert readings[0].people == 1
