"""The same store on a real PostgreSQL server (skipped where none listens on 127.0.0.1:5432)."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, inspect

from watchkeeper.store import Database, StoreError, repository
from watchkeeper.store.models import Base, Person

SERVER = "postgres@127.0.0.1:5432"


@pytest.fixture(scope="module")
def pg_url(postgres_database: str) -> str:
    return f"postgresql+psycopg://{SERVER}/{postgres_database}"


@pytest.fixture
def db(pg_url):
    database = Database(pg_url)
    database.migrate()
    yield database
    database.close()


def test_migrations_create_every_table_and_match_the_models(db):
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_an_exception_in_a_session_leaves_no_rows(db):
    with db.session() as s:
        before = repository.counts(s)
    with pytest.raises(RuntimeError), db.session() as s:
        w = repository.create_watchlist(s, "rolled-back", "security", "basis", "ops")
        repository.add_person(s, w, "A", None, None, "ops")
        raise RuntimeError("failed half way")
    with db.session() as s:
        assert repository.counts(s) == before


def test_cascades_gallery_vectors_utc_times_and_deletion_notes_work_on_postgresql(db):
    vectors = np.random.default_rng(3).normal(size=(3, 128)).astype(np.float32)
    review = datetime(2026, 5, 1, 9, 0, 0, 1, tzinfo=timezone(timedelta(hours=3)))
    with db.session() as s:
        w = repository.create_watchlist(s, "pg", "security", "basis", "ops", review_by=review)
        person = repository.add_person(s, w, "A", None, None, "ops")
        photo = repository.add_photo(s, person, "d" * 64, 10, 10, [0, 0, 5, 5], 0.5)
        for vector in vectors:
            repository.add_template(s, person, photo, "pg-model@1", vector)
    with db.session() as s:
        ids, _, _, got = repository.gallery_templates(s, "pg-model@1")
        stored = repository.get_watchlist(s, "pg")
        assert stored.review_by == review and stored.review_by.tzinfo == UTC
        freed = repository.delete_watchlist(s, stored)
    np.testing.assert_array_equal(got, vectors)
    assert freed == ["d" * 64]
    with db.session() as s:
        _, _, _, left = repository.gallery_templates(s, "pg-model@1")
        assert left.shape[0] == 0
        # the trigger of migration 0013 noted each template the cascade deleted
        noted, newest = repository.template_deletions(s, "pg-model@1", after_seq=0)
        assert sorted(noted) == sorted(ids) and newest == repository.newest_template_deletion(s)
        assert repository.prune_template_deletions(s, datetime.now(UTC) + timedelta(minutes=1))
        assert repository.newest_template_deletion(s) == 0


def test_migration_0012_goes_down_and_up_and_a_deleted_id_is_never_handed_out_again(db):
    """0012 rebuilds tables on SQLite only; PostgreSQL's sequences never reused an id."""
    with db.session() as s:
        w = repository.create_watchlist(s, "ids", "security", "basis", "ops")
        ids = [repository.add_person(s, w, name, None, None, "ops").id for name in "AB"]
    for step, revision in ((command.downgrade, "0011"), (command.upgrade, "head")):
        with db.migration() as config:
            step(config, revision)
    with db.session() as s:
        s.execute(delete(Person).where(Person.id == ids[-1]))
    with db.session() as s:
        w = repository.get_watchlist(s, "ids")
        assert repository.add_person(s, w, "C", None, None, "ops").id > ids[-1]
        assert [p.name for p in repository.list_persons(s, w)] == ["A", "C"]


def test_an_unreachable_server_is_a_clear_error_without_the_password():
    with pytest.raises(StoreError) as caught:
        Database("postgresql+psycopg://watch:s3cret@127.0.0.1:1/watchkeeper")
    message = str(caught.value)
    assert "127.0.0.1:1/watchkeeper" in message
    assert "s3cret" not in message
