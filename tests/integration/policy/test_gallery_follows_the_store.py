"""A running recogniser's gallery follows the store: an enrolment is added to it in place, a
delete rebuilds it (a deleted entry's ids may be reused), and it always matches what the store
holds. Real SQLite, real models, real embeddings of real photos."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from support.policy_world import World, make_world, sighting_of
from watchkeeper.store import repository
from watchkeeper.store.models import Template
from watchkeeper.usecases.persons import delete_person
from watchkeeper.vision import FaceAnalyzer

NOW = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path, analyzer: FaceAnalyzer) -> World:
    world = make_world(tmp_path, analyzer)
    world.watchlist("missing")
    world.authorise("missing", "airport")
    world.camera("gate-1", "airport")
    return world


def matched(world: World, recogniser, enrolled) -> list[int]:
    found = recogniser.match(sighting_of(enrolled, "gate-1", NOW, world.analyzer.model))
    return [m.person_id for m in found]


def test_an_enrolment_is_added_to_the_running_gallery_and_matched(world: World):
    first = world.enrol("missing", "angelina_jolie")
    recogniser = world.recogniser()
    assert recogniser.last_refresh == "rebuilt"
    second = world.enrol("missing", "paul_rudd")
    assert matched(world, recogniser, second) == []  # not refreshed yet

    assert recogniser.refresh()

    assert recogniser.last_refresh == "followed"
    assert len(recogniser.gallery) == 2
    assert matched(world, recogniser, second) == [second.person_id]
    assert matched(world, recogniser, first) == [first.person_id]
    assert not recogniser.refresh()  # nothing moved since


def test_a_deleted_entry_is_no_longer_matched_even_when_its_ids_are_reused(world: World):
    kept = world.enrol("missing", "angelina_jolie")
    gone = world.enrol("missing", "paul_rudd")
    recogniser = world.recogniser()
    delete_person(world.db, world.media, "user:alice", gone.person_id, "found")
    # SQLite hands the freed highest ids out again: the next entry takes the deleted one's
    taken = world.enrol("missing", "shea_whigham")
    assert taken.person_id == gone.person_id

    assert recogniser.refresh()

    assert recogniser.last_refresh == "rebuilt"
    assert matched(world, recogniser, gone) == []
    assert matched(world, recogniser, taken) == [taken.person_id]
    assert matched(world, recogniser, kept) == [kept.person_id]


def test_a_template_committed_late_under_an_older_id_is_found_by_a_rebuild(world: World):
    first = world.enrol("missing", "angelina_jolie")
    late = world.enrol("missing", "paul_rudd")
    world.enrol("missing", "shea_whigham")
    with world.db.session() as s:  # as if its transaction had not committed yet
        row = s.scalars(select(Template).where(Template.person_id == late.person_id)).one()
        values = {c: getattr(row, c) for c in ("id", "person_id", "photo_id", "model")}
        values |= {"dimension": row.dimension, "vector": row.vector}
        s.delete(row)
    recogniser = world.recogniser()
    assert matched(world, recogniser, late) == []
    with world.db.session() as s:  # it commits, after a later enrolment's
        s.execute(insert(Template).values(**values))
        repository.bump_gallery_version(s)

    assert recogniser.refresh()

    assert recogniser.last_refresh == "rebuilt"
    assert matched(world, recogniser, late) == [late.person_id]
    assert matched(world, recogniser, first) == [first.person_id]
