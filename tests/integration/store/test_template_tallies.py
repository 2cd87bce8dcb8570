"""The store's own count and sum of each model's template ids (migration 0014's triggers) stay
what a query over the templates says, through every way a template row comes and goes:
enrolment, a person's cascade, a list's cascade, a photo withdrawn, a row renumbered or moved
to another model by hand, the table emptied. On SQLite and on the real PostgreSQL, where the
parts are appended a statement at a time and folded while other transactions write."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import delete, func, insert, select, text

from watchkeeper.store import Database, repository
from watchkeeper.store.models import Photo, Template, TemplateTally

MODELS = ("sface@1", "other@2")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/watchkeeper.db"
    else:
        database = request.getfixturevalue("postgres_database")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    database = Database(url)
    if request.param == "postgresql":  # the module's database: each test starts empty
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    database.migrate()
    yield database
    database.close()


def kept(db: Database) -> dict[str, tuple[int, int]]:
    with db.session(readonly=True) as s:
        return {model: repository.template_tally(s, model) for model in MODELS}


def counted(db: Database) -> dict[str, tuple[int, int]]:
    with db.session(readonly=True) as s:
        return {model: repository.counted_template_tally(s, model) for model in MODELS}


def parts(db: Database) -> int:
    with db.session(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(TemplateTally)) or 0)


def enrol(db: Database, watchlist: str, name: str, photos: int, model: str) -> int:
    vectors = np.random.default_rng(len(name)).normal(size=(photos, 8)).astype(np.float32)
    with db.session() as s:
        wl = repository.get_watchlist(s, watchlist)
        person = repository.add_person(s, wl, name, None, None, "ops")
        for index, vector in enumerate(vectors):
            sha = f"{name}{index}".encode().hex().ljust(64, "0")[:64]
            photo = repository.add_photo(s, person, sha, 10, 10, [0, 0, 5, 5], 0.5)
            repository.add_template(s, person, photo, model, vector)
        return person.id


def one_template_row(person: int, photo: int) -> dict[str, object]:
    return {"person_id": person, "photo_id": photo, "model": MODELS[0], "dimension": 1,
            "vector": b"\x00\x00\x80?"}  # fmt: skip


@pytest.fixture
def lists(db: Database) -> Database:
    with db.session() as s:
        for name in ("missing", "wanted"):
            repository.create_watchlist(s, name, "security", "basis", "ops")
    return db


def test_the_kept_count_and_sum_follow_every_change_of_the_templates(lists: Database):
    db = lists
    assert kept(db) == counted(db) == {model: (0, 0) for model in MODELS}
    survivor = enrol(db, "missing", "kept", 3, MODELS[0])
    gone = enrol(db, "missing", "gone", 2, MODELS[0])
    enrol(db, "wanted", "listed", 4, MODELS[0])
    enrol(db, "missing", "other-model", 2, MODELS[1])
    assert kept(db) == counted(db) and counted(db)[MODELS[0]][0] == 9

    with db.session() as s:  # a person's cascade
        repository.delete_person(s, repository.get_person(s, gone))
    assert kept(db) == counted(db)
    with db.session() as s:  # a list's cascade
        repository.delete_watchlist(s, repository.get_watchlist(s, "wanted"))
    assert kept(db) == counted(db)
    with db.session() as s:  # a photo withdrawn: its template goes by the photo's cascade
        photo = s.scalars(select(Photo).where(Photo.person_id == survivor)).first()
        s.execute(delete(Photo).where(Photo.id == photo.id))
    assert kept(db) == counted(db)
    with db.session() as s:  # by hand: a row moved to another model, one renumbered
        first = s.scalar(select(func.min(Template.id)).where(Template.model == MODELS[0]))
        s.execute(
            text("UPDATE templates SET model = :m WHERE id = :id"), {"m": MODELS[1], "id": first}
        )
        s.execute(text("UPDATE templates SET id = id + 1000 WHERE model = :m"), {"m": MODELS[1]})
    assert kept(db) == counted(db)
    with db.session() as s:
        s.execute(delete(Template))
    assert kept(db) == counted(db) == {model: (0, 0) for model in MODELS}


def test_a_statement_adds_one_part_however_many_templates_it_changes_and_a_change_of_the_gallery_folds_them(  # noqa: E501
    lists: Database,
):
    db = lists
    person = enrol(db, "missing", "many", 1, MODELS[0])
    with db.session() as s:
        photo = s.scalar(select(Photo.id).where(Photo.person_id == person))
    before = parts(db)
    with db.session() as s:  # 2,000 rows in one statement, by hand
        s.execute(insert(Template).values([one_template_row(person, photo)] * 2000))
    with db.session() as s:
        s.execute(delete(Template).where(Template.person_id == person))  # 2,001 rows
    assert kept(db) == counted(db) and counted(db)[MODELS[0]] == (0, 0)
    if db.engine.dialect.name == "postgresql":  # a part a statement, never one a row
        assert parts(db) - before == 2
    else:  # SQLite keeps each model's one row in place
        assert parts(db) == before
    enrol(db, "missing", "next", 1, MODELS[0])  # bumps the gallery's version: folds
    assert parts(db) == 1 and kept(db) == counted(db)


def test_rewriting_the_vectors_adds_no_part(lists: Database):
    """A key rotation rewrites every template's vector, one statement a row: no id moves, so
    nothing is added to the tally (on PostgreSQL two parts a row would pile up until folded)."""
    db = lists
    enrol(db, "missing", "rotated", 3, MODELS[0])
    before = parts(db)
    with db.session() as s:
        for row in s.scalars(select(Template)):
            row.vector = bytes(reversed(row.vector))
    assert parts(db) == before and kept(db) == counted(db)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite has one writer
def test_a_fold_and_a_recount_keep_a_change_not_yet_committed(lists: Database):
    """Another transaction's part, written but not committed while the parts are folded or
    counted again, is neither lost nor counted twice."""
    db = lists
    person = enrol(db, "missing", "writer", 1, MODELS[0])
    with db.session() as s:
        photo = s.scalar(select(Photo.id).where(Photo.person_id == person))
    for tidy in (repository.fold_template_tallies, repository.recount_template_tallies):
        with db.engine.connect() as writer:
            writer.execute(insert(Template), [one_template_row(person, photo)] * 3)
            with db.session() as s:  # meanwhile, in another transaction
                said = tidy(s)
            writer.commit()
        assert kept(db) == counted(db), tidy.__name__
        assert not said  # and the recount took the writer's change for nothing wrong


def test_a_recount_mends_a_tally_changed_behind_the_triggers(lists: Database):
    db = lists
    enrol(db, "missing", "counted", 3, MODELS[0])
    truth = counted(db)
    with db.session() as s:  # what a restore with triggers off, say, could leave
        s.execute(insert(TemplateTally).values(model=MODELS[0], templates=5, id_sum=77))
    wrong = kept(db)[MODELS[0]]
    assert wrong != truth[MODELS[0]]
    with db.session() as s:
        mended = repository.recount_template_tallies(s)
    assert mended == [repository.TallyMended(MODELS[0], wrong, truth[MODELS[0]])]
    assert kept(db) == truth
    with db.session() as s:  # right again: nothing to say
        assert repository.recount_template_tallies(s) == []


def test_emptying_the_table_at_once_leaves_nothing_counted(lists: Database):
    db = lists
    enrol(db, "missing", "truncated", 2, MODELS[0])
    with db.session() as s:
        if db.engine.dialect.name == "postgresql":
            s.execute(text("TRUNCATE templates"))
        else:  # SQLite has no TRUNCATE; its truncating DELETE runs the triggers
            s.execute(text("DELETE FROM templates"))
    assert kept(db) == counted(db) == {model: (0, 0) for model in MODELS}
