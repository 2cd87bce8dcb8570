"""The audit chain on a real PostgreSQL server, appended to from several threads at once."""

import threading

import pytest

from watchkeeper.policy import audit
from watchkeeper.store import Database

SERVER = "postgres@127.0.0.1:5432"
THREADS, EACH = 4, 15


@pytest.fixture(scope="module")
def db(postgres_database):
    database = Database(f"postgresql+psycopg://{SERVER}/{postgres_database}")
    try:
        database.migrate()
        yield database
    finally:
        database.close()


def test_concurrent_appends_form_one_consecutive_verifiable_chain(db):
    errors = []
    start = threading.Barrier(THREADS)

    def append(worker):
        try:
            start.wait()
            for i in range(EACH):
                with db.session() as s:
                    audit.record(s, f"worker-{worker}", "alert.review", "alert", i, "checked")
        except Exception as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session() as s:
        report = audit.verify(s)
    assert report.ok, report.problem
    assert report.checked == report.head_seq == THREADS * EACH
