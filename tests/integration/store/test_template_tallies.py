"""The store's own count and sum of each model's template ids (migration 0014's triggers) stay
what a query over the templates says, through every way a template row comes and goes:
enrolment, a person's cascade, a list's cascade, a photo withdrawn, a row renumbered or moved
to another model by hand. On SQLite and on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import delete, func, select, text

from watchkeeper.store import Database, repository
from watchkeeper.store.models import Photo, Template

MODELS = ("sface@1", "other@2")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/watchkeeper.db"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{request.getfixturevalue('postgres_database')}"
    database = Database(url)
    database.migrate()
    yield database
    database.close()


def counted(db: Database, model: str) -> tuple[int, int]:
    """The count and sum a query over the rows gives."""
    with db.session(readonly=True) as s:
        query = select(func.count(Template.id), func.coalesce(func.sum(Template.id), 0))
        count, total = s.execute(query.where(Template.model == model)).one()
        return int(count), int(total)


def assert_tallies_agree(db: Database) -> None:
    with db.session(readonly=True) as s:
        kept = {model: repository.template_tally(s, model) for model in MODELS}
    assert kept == {model: counted(db, model) for model in MODELS}


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


def test_the_kept_count_and_sum_follow_every_change_of_the_templates(db: Database):
    with db.session() as s:
        for name in ("missing", "wanted"):
            repository.create_watchlist(s, name, "security", "basis", "ops")
    assert_tallies_agree(db)  # nothing stored: (0, 0) for each
    kept = enrol(db, "missing", "kept", 3, MODELS[0])
    gone = enrol(db, "missing", "gone", 2, MODELS[0])
    enrol(db, "wanted", "listed", 4, MODELS[0])
    enrol(db, "missing", "other-model", 2, MODELS[1])
    assert_tallies_agree(db)

    with db.session() as s:  # a person's cascade
        repository.delete_person(s, repository.get_person(s, gone))
    assert_tallies_agree(db)
    with db.session() as s:  # a list's cascade
        repository.delete_watchlist(s, repository.get_watchlist(s, "wanted"))
    assert_tallies_agree(db)
    with db.session() as s:  # a photo withdrawn: its template goes by the photo's cascade
        photo = s.scalars(select(Photo).where(Photo.person_id == kept)).first()
        s.execute(delete(Photo).where(Photo.id == photo.id))
    assert_tallies_agree(db)
    with db.session() as s:  # by hand: a row moved to another model, one renumbered
        first = s.scalar(select(func.min(Template.id)).where(Template.model == MODELS[0]))
        s.execute(
            text("UPDATE templates SET model = :m WHERE id = :id"), {"m": MODELS[1], "id": first}
        )
        s.execute(text("UPDATE templates SET id = id + 1000 WHERE model = :m"), {"m": MODELS[1]})
    assert_tallies_agree(db)
    with db.session() as s:
        s.execute(delete(Template))
    assert_tallies_agree(db)
    assert counted(db, MODELS[0]) == (0, 0)
