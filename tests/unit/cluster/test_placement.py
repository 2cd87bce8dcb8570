"""Placement by measured load: even spreading, relief of workers that fall behind, cooldowns."""

from watchkeeper.cluster.placement import (
    DEFAULT_CORE_SECONDS_PER_FRAME,
    WorkerLoad,
    core_seconds_per_frame,
    load,
    pick,
    relieve,
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
