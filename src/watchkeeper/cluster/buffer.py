"""Results that could not be written yet: kept in memory, in order, with a bound, and retried.

A camera worker must keep analysing while PostgreSQL is unreachable (a restart, a fail-over,
a network cut): the people it sees meanwhile are just as real. So a result whose write fails
because the database cannot be reached goes into a :class:`ResultBuffer`; one thread writes
the buffer back, oldest first, with exponential back-off and jitter, as soon as the database
answers again. While anything is buffered, new results queue behind it, so the order of the
writes is the order of the sightings and a database that just came back is not hit by every
camera at once.

The bound is a choice between two losses. Backpressure (stop analysing when the buffer is
full) would lose what the cameras see during the outage *and* leave the streams to lag once
it ends; dropping the oldest loses the oldest results only, counted in ``dropped``, and only
after ``capacity`` of them. Only matched sightings (and archived ones, where a camera group
archives) are written at all, a few per camera per hour, so the default of 2,000 rides out
hours of outage; each takes about 70 kB (its face crop and templates).

A write refused for another reason (a constraint, a person deleted meanwhile) would be
refused again: it is not buffered but counted in ``rejected`` and logged, so that one bad
result cannot hold up the others for ever.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from watchkeeper.alerts import AlertChange, AlertService, CameraRef
from watchkeeper.domain import Match, Sighting
from watchkeeper.store import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError)


def unreachable(exc: BaseException) -> bool:
    """Whether a store error means "the database cannot be reached now" (worth retrying)."""
    return isinstance(exc.__cause__, _UNREACHABLE) or isinstance(exc, _UNREACHABLE)


@dataclass(frozen=True, slots=True)
class BufferStats:
    pending: int  # waiting to be written
    written_late: int  # written after having waited in the buffer
    dropped: int  # oldest ones given up because the buffer was full
    rejected: int  # refused by the database for a reason other than being unreachable
    attempts: int  # failed write attempts since the buffer last emptied
    oldest_age_s: float  # how long the oldest pending result has waited


class ResultBuffer(Generic[T, R]):
    """Writes each item through ``write``; buffers it while the database is unreachable."""

    def __init__(
        self,
        write: Callable[[T], R],
        capacity: int = 2000,
        retry_base_s: float = 0.5,
        retry_cap_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("the buffer needs room for at least one result")
        self.write = write
        self.capacity = capacity
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        self._rng = rng or random.Random()
        self._items: deque[tuple[float, T]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._written_late = 0
        self._dropped = 0
        self._rejected = 0
        self._attempts = 0
        self._thread = threading.Thread(target=self._run, name="result-buffer", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> R | None:
        """Write ``item`` now and return what ``write`` returned, or keep it for later (None)."""
        with self._lock:
            if self._items:  # keep the order: nothing overtakes what is already waiting
                self._keep(item)
                return None
        try:
            return self.write(item)
        except StoreError as exc:
            if not unreachable(exc):
                self._reject(exc)
                return None
            log.warning("database unreachable, result buffered: %s", exc)
            with self._lock:
                self._keep(item)
            return None

    def stats(self) -> BufferStats:
        with self._lock:
            oldest = time.monotonic() - self._items[0][0] if self._items else 0.0
            return BufferStats(
                pending=len(self._items),
                written_late=self._written_late,
                dropped=self._dropped,
                rejected=self._rejected,
                attempts=self._attempts,
                oldest_age_s=round(oldest, 3),
            )

    def close(self, timeout: float = 5.0) -> int:
        """Try to write what is pending within ``timeout``, then stop; returns what is left."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._wake.notify_all()
        while time.monotonic() < deadline:
            with self._lock:
                if not self._items:
                    break
            time.sleep(0.05)
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            left = len(self._items)
        self._thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        if left:
            log.error("%d results could not be written before stopping and are lost", left)
        return left

    def _keep(self, item: T) -> None:  # under the lock
        if len(self._items) >= self.capacity:
            self._items.popleft()
            self._dropped += 1
            log.error("result buffer full (%d): the oldest result was dropped", self.capacity)
        self._items.append((time.monotonic(), item))
        self._wake.notify_all()

    def _reject(self, exc: StoreError) -> None:
        with self._lock:
            self._rejected += 1
        log.error("a result was refused by the database and is not retried: %s", exc)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._items and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                item = self._items[0][1]
            try:
                self.write(item)
            except StoreError as exc:
                if not unreachable(exc):
                    self._pop(item)
                    self._reject(exc)
                    continue
                with self._lock:
                    self._attempts += 1
                    delay = min(self.retry_cap_s, self.retry_base_s * 2 ** min(self._attempts, 30))
                    self._wake.wait(delay * self._rng.uniform(0.5, 1.0))
                continue
            with self._lock:
                self._written_late += 1
                if self._pop_locked(item) and not self._items:
                    if self._attempts:
                        log.info("database back: the result buffer is written")
                    self._attempts = 0

    def _pop(self, item: T) -> None:
        with self._lock:
            self._pop_locked(item)

    def _pop_locked(self, item: T) -> bool:
        if self._items and self._items[0][1] is item:
            self._items.popleft()
            return True
        return False  # dropped meanwhile by a full buffer


Results = Sequence[tuple[Sighting, list[Match]]]


class BufferedAlerts:
    """An :class:`~watchkeeper.alerts.AlertService` seen through a :class:`ResultBuffer`.

    It stands in for the alert service of a camera runner: ``record`` writes the alert with
    its outbox rows (one transaction, as on one machine) or buffers it and returns no change;
    the buffered ones are written later by the buffer's thread.
    """

    def __init__(self, service: AlertService, buffer_max: int, base_s: float, cap_s: float):
        self.service = service
        self.db = service.db  # the camera runner archives through these
        self.media = service.media
        self.buffer: ResultBuffer[tuple[CameraRef, Results], list[AlertChange]] = ResultBuffer(
            lambda item: service.record(*item), buffer_max, base_s, cap_s
        )

    def record(self, camera: CameraRef, results: Results) -> list[AlertChange]:
        return self.buffer.submit((camera, list(results))) or []
