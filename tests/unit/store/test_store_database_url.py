import pytest

from watchkeeper.store import Database, StoreError


def test_a_url_that_is_not_a_url_is_refused_with_the_url_named():
    with pytest.raises(StoreError, match="not-a-url"):
        Database("not-a-url")


def test_an_unknown_database_kind_is_refused_with_the_url_named():
    with pytest.raises(StoreError, match="nosuchdb://"):
        Database("nosuchdb://somewhere/db")


def test_in_memory_sqlite_keeps_its_schema_across_sessions():
    db = Database("sqlite://")
    db.migrate()
    with db.session() as s:
        tables = s.connection().exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    db.close()
    assert "audit_events" in tables
