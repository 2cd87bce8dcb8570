"""Results kept while the database is unreachable: in order, bounded, written when it returns."""

import threading
import time

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from watchkeeper.cluster.buffer import ResultBuffer, unreachable
from watchkeeper.store import StoreError


class FlakyStore:
    """Stands in for the store: writes succeed while ``up``, else fail as an outage does."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.up.set()
        self.rows: list[int] = []
        self.refuse: set[int] = set()

    def write(self, item: int) -> str:
        if item in self.refuse:
            raise StoreError("refused") from IntegrityError("INSERT", {}, Exception("duplicate"))
        if not self.up.is_set():
            raise StoreError("unreachable") from OperationalError(
                "SELECT 1", {}, Exception("connection refused")
            )
        self.rows.append(item)
        return f"row {item}"


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture
def db():
    return FlakyStore()


def make(db, capacity=100):
    return ResultBuffer(db.write, capacity=capacity, retry_base_s=0.01, retry_cap_s=0.05)


def test_a_result_is_written_at_once_while_the_database_answers(db):
    buffer = make(db)
    assert buffer.submit(1) == "row 1"
    assert db.rows == [1] and buffer.stats().pending == 0
    buffer.close()


def test_results_wait_during_an_outage_and_are_written_in_order_when_it_ends(db):
    buffer = make(db)
    db.up.clear()
    for item in range(5):
        assert buffer.submit(item) is None
    time.sleep(0.1)  # several retries fail meanwhile
    stats = buffer.stats()
    assert (stats.pending, db.rows) == (5, [])
    assert stats.attempts >= 2 and stats.oldest_age_s > 0
    db.up.set()
    assert buffer.submit(5) is None  # queues behind the others: nothing overtakes
    wait_until(lambda: buffer.stats().pending == 0)
    assert db.rows == [0, 1, 2, 3, 4, 5]
    stats = buffer.stats()
    assert (stats.written_late, stats.dropped, stats.attempts) == (6, 0, 0)
    assert buffer.submit(6) == "row 6"  # empty again: straight through
    buffer.close()


def test_a_full_buffer_drops_the_oldest_results_and_counts_them(db):
    buffer = make(db, capacity=3)
    db.up.clear()
    for item in range(5):
        buffer.submit(item)
    assert buffer.stats().dropped == 2
    db.up.set()
    wait_until(lambda: buffer.stats().pending == 0)
    assert db.rows == [2, 3, 4]
    buffer.close()


def test_a_result_the_database_refuses_is_counted_and_does_not_hold_up_the_others(db):
    buffer = make(db)
    db.refuse = {1}
    db.up.clear()
    for item in range(3):
        buffer.submit(item)
    db.up.set()
    wait_until(lambda: buffer.stats().pending == 0)
    assert db.rows == [0, 2]
    assert buffer.stats().rejected == 1
    assert buffer.submit(1) is None and buffer.stats().rejected == 2  # refused at once too
    buffer.close()


def test_closing_writes_what_is_pending_or_reports_what_is_left(db):
    buffer = make(db)
    db.up.clear()
    buffer.submit(1)
    threading.Timer(0.1, db.up.set).start()
    assert buffer.close(timeout=3) == 0
    assert db.rows == [1]
    down = FlakyStore()
    down.up.clear()
    stuck = make(down)
    stuck.submit(2)
    assert stuck.close(timeout=0.2) == 1


def test_only_connection_failures_count_as_unreachable():
    down = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    refused = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert unreachable(_store_error(down))
    assert not unreachable(_store_error(refused))
    assert not unreachable(StoreError("cannot create the media folder"))


def _store_error(cause: Exception) -> StoreError:
    try:
        raise StoreError("database refused") from cause
    except StoreError as exc:
        return exc
