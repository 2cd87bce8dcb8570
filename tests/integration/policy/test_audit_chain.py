"""The audit hash chain on a real SQLite file, tampered with through the sqlite3 module."""

import sqlite3
import threading

import pytest

from watchkeeper.policy import audit
from watchkeeper.store import Database, repository
from watchkeeper.store.models import AuditEvent

EVENTS = 120
COLUMNS = "at, actor, action, object_type, object_id, reason, details, prev_hash, hash"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "watchkeeper.db"


@pytest.fixture
def db(path):
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.session() as s:
        for i in range(EVENTS):
            audit.record(
                s,
                actor=f"officer-{i % 3}",
                action="person.enrol",
                object_type="person",
                object_id=i,
                reason=f"case {i}",
                details={"photos": i % 4, "note": "ünïcode ✓"},
            )
    yield database
    database.close()


def verify(db, anchor=None):
    with db.session() as s:
        return audit.verify(s, anchor)


def tamper(path, *statements):
    raw = sqlite3.connect(path)
    with raw:
        for sql, params in statements:
            raw.execute(sql, params)
    raw.close()


def test_an_untouched_chain_verifies(db):
    report = verify(db)
    assert report.ok and report.problem is None and report.first_broken_seq is None
    assert report.checked == report.head_seq == EVENTS


def test_an_empty_chain_verifies_with_the_genesis_head(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/empty.db")
    db.migrate()
    report = verify(db)
    db.close()
    assert report.ok and report.checked == 0
    assert (report.head_seq, report.head_hash) == (0, audit.GENESIS_HASH)


def test_the_head_hash_changes_with_each_record(db):
    seen = set()
    with db.session() as s:
        for i in range(5):
            audit.record(s, "alice", "camera.add", "camera", i)
            seen.add(audit.head(s).hash)
        assert audit.head(s).seq == EVENTS + 5
    assert len(seen) == 5


def test_an_event_rolls_back_with_the_change_it_records(db):
    with pytest.raises(RuntimeError), db.session() as s:
        repository.create_watchlist(s, "w", "security", "basis", "ops")
        audit.record(s, "alice", "watchlist.create", "watchlist", "w")
        raise RuntimeError("failed after the audit record")
    with db.session() as s:
        assert audit.head(s).seq == EVENTS
        assert repository.counts(s)["watchlists"] == 0


def test_an_edited_reason_is_found_at_its_seq(db, path):
    tamper(path, ("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 57", ()))
    report = verify(db)
    assert not report.ok
    assert report.first_broken_seq == 57 and report.checked == 56
    assert "altered" in report.problem


def test_a_deleted_event_is_found_at_its_seq(db, path):
    tamper(path, ("DELETE FROM audit_events WHERE seq = 57", ()))
    report = verify(db)
    assert report.first_broken_seq == 57 and "missing" in report.problem


def test_a_forged_event_with_a_correct_hash_is_found_where_it_was_slipped_in(db, path):
    with db.session() as s:
        before = s.get(AuditEvent, 56)
        forged = AuditEvent(
            seq=57,
            at=before.at,
            actor="mallory",
            action="person.delete",
            object_type="person",
            object_id="1",
            reason="routine",
            details=None,
            prev_hash=before.hash,
        )
        forged.hash = audit.event_hash(forged)
    at = forged.at.replace(tzinfo=None).isoformat(sep=" ")
    tamper(
        path,
        ("UPDATE audit_events SET seq = -(seq + 1) WHERE seq >= 57", ()),
        ("UPDATE audit_events SET seq = -seq WHERE seq < 0", ()),
        (
            f"INSERT INTO audit_events (seq, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                57,
                at,
                "mallory",
                "person.delete",
                "person",
                "1",
                "routine",
                None,
                forged.prev_hash,
                forged.hash,
            ),
        ),
    )
    report = verify(db)
    assert report.first_broken_seq == 58  # the forged 57 is self-consistent, 58 no longer links
    assert "does not follow" in report.problem
    assert report.head_seq == EVENTS + 1


def test_two_swapped_events_are_found_at_the_first_of_them(db, path):
    raw = sqlite3.connect(path)
    rows = {
        seq: raw.execute(f"SELECT {COLUMNS} FROM audit_events WHERE seq = ?", (seq,)).fetchone()
        for seq in (20, 30)
    }
    raw.close()
    assign = ", ".join(f"{c} = ?" for c in COLUMNS.split(", "))
    update = f"UPDATE audit_events SET {assign} WHERE seq = ?"
    tamper(path, (update, (*rows[30], 20)), (update, (*rows[20], 30)))
    report = verify(db)
    assert report.first_broken_seq == 20 and report.checked == 19


def test_cutting_off_the_newest_events_is_invisible_inside_but_found_with_an_exported_head(
    db, path
):
    with db.session() as s:
        exported = audit.head(s)
    tamper(path, ("DELETE FROM audit_events WHERE seq > 100", ()))
    assert verify(db).ok  # the documented limit of an internal chain
    report = verify(db, anchor=exported)
    assert not report.ok and report.first_broken_seq == 101
    assert "removed" in report.problem


def test_a_recomputed_chain_is_found_with_an_exported_head(db, path):
    with db.session() as s:
        exported = audit.head(s)
    # The attacker edits event 10 and recomputes every hash from there on.
    with db.session() as s:
        prev = s.get(AuditEvent, 9).hash
        for seq in range(10, EVENTS + 1):
            event = s.get(AuditEvent, seq)
            if seq == 10:
                event.reason = "rewritten"
            event.prev_hash = prev
            event.hash = prev = audit.event_hash(event)
    assert verify(db).ok
    report = verify(db, anchor=exported)
    assert report.first_broken_seq == EVENTS and "rewritten" in report.problem


def test_concurrent_appends_on_sqlite_wait_for_each_other_and_form_one_chain(db):
    threads, each, errors = 4, 10, []
    start = threading.Barrier(threads)

    def append(worker):
        start.wait()
        for i in range(each):
            try:
                with db.session() as s:
                    audit.record(s, f"worker-{worker}", "alert.review", "alert", i)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    workers = [threading.Thread(target=append, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    report = verify(db)
    assert report.ok and report.head_seq == EVENTS + threads * each
