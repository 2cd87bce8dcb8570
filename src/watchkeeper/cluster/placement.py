"""Which worker gets which camera: decisions by measured load, kept apart from Ray.

Every worker reports how busy it is: the CPU seconds its process used per second of wall
time, divided by the cores it may use (``utilisation``; :func:`worker_capacity`), and which of
its cameras miss their analysis rate. A camera costs about the same on every worker (same
models, same streams), so the load a camera adds is estimated from what cameras cost where
they already run.

- A new or orphaned camera goes to the worker whose load, with the camera added, is lowest.
- A worker that is saturated *and* has cameras falling behind gives one camera (its cheapest
  that may move) to the least loaded worker, if that one stays below :data:`ROOM_LEFT` with
  it. One move per worker per round, and each moved camera rests for a cooldown, so that
  placement settles instead of oscillating.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

DEFAULT_CORE_SECONDS_PER_FRAME = 0.06  # YuNet at 1280 px and a share of decoding, one core
SATURATED = 0.85  # utilisation above which a worker cannot keep up with more
ROOM_LEFT = 0.7  # a move must leave the receiving worker at most this busy
BEHIND_RATE = 0.8  # a live camera analysing below this share of its rate is falling behind


@dataclass(slots=True)
class WorkerLoad:
    """One worker as the scheduler sees it in one round."""

    name: str
    capacity: float = 1.0  # cores this worker may use
    fps: dict[int, float] = field(default_factory=dict)  # camera id → frames/s it should analyse
    utilisation: float | None = None  # measured; None until the worker has run a while
    behind: list[int] = field(default_factory=list)  # cameras missing their rate

    @property
    def wanted_fps(self) -> float:
        return sum(self.fps.values())


def worker_capacity(cpus: float, units: float, gil_share: float) -> float:
    """The cores one camera worker may use: its share of its node's (``units`` workers on
    ``cpus`` cores), and no more than its process's one GIL carries.

    Its cameras are threads that hold the GIL ``gil_share`` of their CPU time, so a worker
    given more than ``1 / gil_share`` cores would wait on its GIL with cores idle, and read as
    not busy while its cameras fall behind (decision 0046).
    """
    return max(0.1, min(cpus / max(1.0, units), 1.0 / gil_share))


def core_seconds_per_frame(workers: Iterable[WorkerLoad]) -> float:
    """What one analysed frame costs, as measured across the workers (a default before)."""
    used = wanted = 0.0
    for w in workers:
        if w.utilisation is not None and w.wanted_fps > 0:
            used += w.utilisation * w.capacity
            wanted += w.wanted_fps
    return used / wanted if wanted > 0 and used > 0 else DEFAULT_CORE_SECONDS_PER_FRAME


def load(worker: WorkerLoad, cost: float, extra_fps: float = 0.0) -> float:
    """Expected utilisation of ``worker`` with ``extra_fps`` more frames/s to analyse."""
    estimate = worker.wanted_fps * cost / worker.capacity
    measured = worker.utilisation if worker.utilisation is not None else estimate
    return max(measured, estimate) + extra_fps * cost / worker.capacity


def pick(workers: list[WorkerLoad], fps: float, cost: float) -> WorkerLoad | None:
    """The worker that a camera wanting ``fps`` frames/s should go to (None: no worker)."""
    if not workers:
        return None
    return min(workers, key=lambda w: (load(w, cost, fps), len(w.fps), w.name))


def relieve(
    workers: list[WorkerLoad], cost: float, may_move: Callable[[int], bool]
) -> list[tuple[int, str, str]]:
    """Moves ``(camera, from, to)`` that take work off saturated workers that fall behind."""
    moves = []
    for busy in sorted(workers, key=lambda w: -load(w, cost)):
        if not busy.behind or load(busy, cost) < SATURATED:
            continue
        candidates = sorted((fps, cid) for cid, fps in busy.fps.items() if may_move(cid))
        if not candidates:
            continue
        fps, camera = candidates[0]
        others = [w for w in workers if w is not busy]
        target = pick(others, fps, cost)
        if target is None or load(target, cost, fps) > ROOM_LEFT:
            continue
        moves.append((camera, busy.name, target.name))
        target.fps[camera] = busy.fps.pop(camera)
    return moves
