import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.exc import StatementError

from watchkeeper.store import Database, StoreError, repository
from watchkeeper.store.db import MIGRATIONS
from watchkeeper.store.models import Base, Person, Photo, Template

TABLES = {
    "watchlists",
    "persons",
    "photos",
    "templates",
    "cameras",
    "sightings",
    "matches",
    "audit_events",
    "meta",
}


def test_migrations_create_every_table_in_a_new_sqlite_file_and_its_folder(tmp_path):
    path = tmp_path / "new" / "folder" / "watchkeeper.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.migrate()  # a second run is a no-op
    tables = set(inspect(db.engine).get_table_names())
    db.close()
    assert path.is_file()
    assert tables >= TABLES
    assert "alembic_version" in tables


def test_the_models_and_the_migrations_describe_the_same_schema(db):
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_enforced(db):
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_a_session_commits_when_the_block_ends(db):
    with db.session() as s:
        repository.create_watchlist(s, "wanted", "wanted_person", "warrant 12/25", "ops")
    with db.session() as s:
        assert repository.get_watchlist(s, "wanted").owner == "ops"


def test_an_exception_in_a_session_leaves_no_rows(db):
    with db.session() as s:
        before = repository.counts(s)
    with pytest.raises(RuntimeError), db.session() as s:
        watchlist = repository.create_watchlist(s, "wanted", "wanted_person", "warrant", "ops")
        repository.add_person(s, watchlist, "A. Person", None, None, "ops")
        raise RuntimeError("the operation failed half way")
    with db.session() as s:
        assert repository.counts(s) == before
    assert before["watchlists"] == 0


def test_a_database_file_that_cannot_be_created_fails_with_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="a-file"):
        Database(f"sqlite:///{blocker}/sub/watchkeeper.db")


def test_times_come_back_as_the_same_instant_in_utc(db):
    review = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))
    with db.session() as s:
        repository.create_watchlist(s, "w", "security", "basis", "ops", review_by=review)
    with db.session() as s:
        stored = repository.get_watchlist(s, "w").review_by
    assert stored == review
    assert stored.tzinfo == UTC


def test_sqlite_stores_times_as_utc(db, tmp_path):
    review = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with db.session() as s:
        repository.create_watchlist(s, "w", "security", "basis", "ops", review_by=review)
    raw = sqlite3.connect(tmp_path / "watchkeeper.db")
    assert (
        raw.execute("SELECT review_by FROM watchlists")
        .fetchone()[0]
        .startswith("2026-03-01 10:00:00")
    )
    raw.close()


def test_a_naive_time_is_refused(db):
    with pytest.raises(StatementError, match="naive datetime"), db.session() as s:
        repository.create_watchlist(s, "w", "security", "b", "ops", review_by=datetime(2026, 1, 1))


def test_a_readonly_session_does_not_hold_up_a_writer(db):
    with db.session(readonly=True) as reader:
        assert repository.counts(reader)["watchlists"] == 0
        with db.session() as writer:
            repository.create_watchlist(writer, "w", "security", "basis", "ops")
        assert repository.counts(reader)["watchlists"] == 0  # the reader keeps its snapshot
    with db.session(readonly=True) as reader:
        assert repository.counts(reader)["watchlists"] == 1


def test_migration_0010_keeps_the_templates_and_their_links_and_never_reuses_an_id(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/old.db")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:  # a store as it stood before 0010
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    with database.session() as s:
        watchlist = repository.create_watchlist(s, "w", "security", "b", "ops")
        person = repository.add_person(s, watchlist, "p", None, None, "ops")
        photo = repository.add_photo(s, person, "ab" * 32, 10, 10, [0, 0, 1, 1], 0.9)
        # rows as that schema takes them: the repository writes for the newest one (it folds
        # the tallies of migration 0014 at every change of the gallery)
        templates = [
            Template(person=person, photo_id=photo.id, model="m@1", dimension=2, vector=b"")
            for _ in range(3)
        ]
        s.add_all(templates)
        s.flush()
        ids = [template.id for template in templates]
        person_id, photo_id = person.id, photo.id

    database.migrate()

    with database.session() as s:
        assert list(s.scalars(select(Template.id).order_by(Template.id))) == ids
        s.execute(delete(Template).where(Template.id == ids[-1]))  # the newest
    with database.session() as s:
        person, photo = s.get(Person, person_id), s.get(Photo, photo_id)
        assert repository.add_template(s, person, photo, "m@1", [0.0, 1.0]).id > ids[-1]
        s.delete(person)
    with database.session() as s:  # the foreign keys still cascade
        assert s.scalar(select(func.count()).select_from(Template)) == 0
    database.close()
