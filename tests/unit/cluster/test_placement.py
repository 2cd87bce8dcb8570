"""Placement by measured load: even spreading, relief of workers that fall behind, cooldowns."""

import pytest

from watchkeeper.cluster.placement import (
    DEFAULT_CORE_SECONDS_PER_FRAME,
    WorkerLoad,
    core_seconds_per_frame,
    load,
    pick,
    relieve,
    worker_capacity,
)


def place_all(workers, cameras, cost=0.05):
    for camera, fps in cameras:
        target = pick(workers, fps, cost)
        target.fps[camera] = fps
    return {w.name: sorted(w.fps) for w in workers}


def test_new_cameras_spread_evenly_over_idle_workers():
    workers = [WorkerLoad("a"), WorkerLoad("b"), WorkerLoad("c")]
    placed = place_all(workers, [(i, 5.0) for i in range(6)])
    assert placed == {"a": [0, 3], "b": [1, 4], "c": [2, 5]}


def test_a_worker_with_more_cores_takes_more_cameras():
    workers = [WorkerLoad("small", capacity=1), WorkerLoad("big", capacity=3)]
    placed = place_all(workers, [(i, 5.0) for i in range(8)])
    assert (len(placed["small"]), len(placed["big"])) == (2, 6)


def test_measured_utilisation_wins_over_the_estimate_when_it_is_higher():
    busy = WorkerLoad("busy", fps={1: 5.0}, utilisation=0.9)  # its camera is expensive
    calm = WorkerLoad("calm", fps={2: 5.0, 3: 5.0}, utilisation=0.2)
    cost = core_seconds_per_frame([busy, calm])
    assert load(busy, cost) == 0.9
    assert pick([busy, calm], 5.0, cost) is calm


def test_the_cost_of_a_frame_is_measured_across_workers_or_defaults():
    assert core_seconds_per_frame([WorkerLoad("new")]) == DEFAULT_CORE_SECONDS_PER_FRAME
    workers = [
        WorkerLoad("a", capacity=2, fps={1: 5.0, 2: 5.0}, utilisation=0.5),  # 1 core for 10 f/s
        WorkerLoad("b", capacity=1, fps={3: 10.0}, utilisation=1.0),  # 1 core for 10 f/s
    ]
    assert core_seconds_per_frame(workers) == 0.1


def test_a_saturated_worker_that_falls_behind_gives_its_cheapest_camera_to_the_idlest():
    busy = WorkerLoad("busy", fps={1: 5.0, 2: 2.0, 3: 5.0}, utilisation=0.95, behind=[1])
    idle = WorkerLoad("idle", fps={4: 2.0}, utilisation=0.1)
    other = WorkerLoad("other", fps={5: 5.0, 6: 5.0}, utilisation=0.5)
    moves = relieve([busy, idle, other], 0.05, lambda _camera: True)
    assert moves == [(2, "busy", "idle")]
    assert 2 in idle.fps and 2 not in busy.fps


def test_no_move_for_a_busy_worker_that_keeps_up_for_cameras_resting_or_when_all_are_full():
    keeping_up = WorkerLoad("a", fps={1: 5.0}, utilisation=0.95)
    idle = WorkerLoad("b", utilisation=0.0)
    assert relieve([keeping_up, idle], 0.05, lambda _c: True) == []
    behind = WorkerLoad("a", fps={1: 5.0}, utilisation=0.95, behind=[1])
    assert relieve([behind, idle], 0.05, lambda _c: False) == []  # moved recently: resting
    full = WorkerLoad("b", fps={2: 5.0}, utilisation=0.9)
    assert relieve([behind, full], 0.05, lambda _c: True) == []  # nowhere better to go


@pytest.mark.parametrize(
    ("cpus", "units", "cores"),
    [
        (2, 1, 2.0),  # a small node: its cores bound the worker
        (32, 3, 32 / 3),  # as the plan asks for crowd cameras: a third of the node each
        (32, 1, 12.5),  # one worker on a big node: no more than its GIL carries (1 / 0.08)
        (64, 0, 12.5),  # no units reported: one worker
    ],
)
def test_a_worker_is_given_its_share_of_the_node_as_far_as_its_gil_carries(cpus, units, cores):
    assert worker_capacity(cpus, units, gil_share=0.08) == pytest.approx(cores)


def test_a_worker_bound_by_its_gil_reads_as_saturated_and_gives_up_a_camera():
    # one worker alone on a 32-core node runs 11 cores of cameras, two of which fall behind:
    # against the node's 32 cores it looks a third busy; against what its GIL carries, full
    cameras = {i: 5.0 for i in range(50)}
    alone = worker_capacity(32, 1, gil_share=0.08)
    busy = WorkerLoad("alone", capacity=alone, fps=dict(cameras), utilisation=11 / alone)
    busy.behind = [3, 7]
    idle = WorkerLoad("other", capacity=alone, utilisation=0.1)
    assert relieve([busy, idle], 0.044, lambda _camera: True) == [(0, "alone", "other")]
    looks_idle = WorkerLoad("alone", capacity=32, fps=dict(cameras), utilisation=11 / 32)
    looks_idle.behind = [3, 7]
    idle = WorkerLoad("other", capacity=alone, utilisation=0.1)
    assert relieve([looks_idle, idle], 0.044, lambda _camera: True) == []
