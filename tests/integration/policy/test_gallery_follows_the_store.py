"""A running recogniser's gallery follows the store: an enrolment is added to it in place, a
deleted entry's templates are masked in place — found by the store's notes of deletions,
every stored id read only where a deletion was not seen noted — and it always matches what
the store holds. Real SQLite, real models, real embeddings of real photos."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select

from support.policy_world import World, make_world, sighting_of
from watchkeeper import recognition
from watchkeeper.config import MatchingConfig
from watchkeeper.recognition import Recogniser
from watchkeeper.store import repository
from watchkeeper.store.models import Template, TemplateDeletion, TemplateTally
from watchkeeper.usecases.persons import delete_person
from watchkeeper.usecases.watchlists import delete_watchlist
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


def test_a_deleted_entry_is_no_longer_matched_and_the_next_entry_takes_neither_of_its_ids(
    world: World,
):
    kept = world.enrol("missing", "angelina_jolie")
    gone = world.enrol("missing", "paul_rudd")
    recogniser = world.recogniser()
    deleted = template_ids(world, gone.person_id)
    delete_person(world.db, world.media, "user:alice", gone.person_id, "found")
    # the newest person and templates deleted: SQLite hands out neither id again (0010, 0012)
    taken = world.enrol("missing", "shea_whigham")
    assert taken.person_id > gone.person_id
    assert min(template_ids(world, taken.person_id)) > max(deleted)

    assert recogniser.refresh()

    assert recogniser.last_refresh == "followed"
    assert recogniser.stored_id_reads == 0  # the deletion was noted: no id read but those
    assert len(recogniser.gallery) == 2
    assert matched(world, recogniser, gone) == []
    assert matched(world, recogniser, taken) == [taken.person_id]
    assert matched(world, recogniser, kept) == [kept.person_id]


def test_a_deleted_list_notes_every_template_of_its_entries_and_the_gallery_masks_them(
    world: World,
):
    kept = world.enrol("missing", "angelina_jolie")
    world.watchlist("wanted", "wanted_person")
    gone = [world.enrol("wanted", name) for name in ("paul_rudd", "shea_whigham")]
    recogniser = world.recogniser()
    deleted = sorted(t for entry in gone for t in template_ids(world, entry.person_id))

    delete_watchlist(world.db, world.media, "user:alice", "wanted", "operation over")

    with world.db.session(readonly=True) as s:  # the cascade's deletes, noted by the store
        assert sorted(s.scalars(select(TemplateDeletion.template_id))) == deleted
    assert recogniser.refresh()
    assert (recogniser.last_refresh, recogniser.stored_id_reads) == ("followed", 0)
    assert sorted(recogniser.gallery.template_ids()) == template_ids(world, kept.person_id)
    assert all(matched(world, recogniser, entry) == [] for entry in gone)


def test_a_deletion_the_gallery_did_not_see_noted_is_found_by_reading_every_id(world: World):
    kept = world.enrol("missing", "angelina_jolie")
    gone = world.enrol("missing", "paul_rudd")
    recogniser = world.recogniser()
    delete_person(world.db, world.media, "user:alice", gone.person_id, "found")
    with world.db.session() as s:  # pruned, or committed after a later note it had read
        s.execute(delete(TemplateDeletion))

    assert recogniser.refresh()

    assert (recogniser.last_refresh, recogniser.stored_id_reads) == ("followed", 1)
    assert matched(world, recogniser, gone) == []
    assert matched(world, recogniser, kept) == [kept.person_id]


def test_a_deletion_made_behind_the_triggers_is_found_when_the_rows_are_next_counted(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    kept = world.enrol("missing", "angelina_jolie")
    gone = world.enrol("missing", "paul_rudd")
    recogniser = world.recogniser()
    ids = template_ids(world, gone.person_id)
    with world.db.session() as s:  # as a restore with the triggers off would: no note, no part
        s.execute(delete(Template).where(Template.person_id == gone.person_id))
        s.execute(delete(TemplateDeletion))
        s.execute(
            insert(TemplateTally).values(
                model=world.analyzer.model, templates=len(ids), id_sum=sum(ids)
            )
        )
        repository.bump_gallery_version(s)
    assert recogniser.refresh()
    assert matched(world, recogniser, gone) == [gone.person_id]  # the kept tally agreed

    monkeypatch.setattr(recognition, "TALLY_RECOUNT_S", 0.0)  # time for a count over the rows
    with world.db.session() as s:
        repository.bump_gallery_version(s)
    assert recogniser.refresh()

    assert (recogniser.last_refresh, recogniser.stored_id_reads) == ("followed", 1)
    assert matched(world, recogniser, gone) == []
    assert matched(world, recogniser, kept) == [kept.person_id]


def test_the_newest_template_deleted_is_not_reused_and_a_running_gallery_masks_it(world: World):
    kept = world.enrol("missing", "angelina_jolie")
    recogniser = world.recogniser()
    gone = world.enrol("missing", "paul_rudd")
    assert recogniser.refresh() and recogniser.last_refresh == "followed"
    deleted = template_ids(world, gone.person_id)
    delete_person(world.db, world.media, "user:alice", gone.person_id, "withdrawn")

    assert recogniser.refresh()

    assert recogniser.last_refresh == "followed"
    assert matched(world, recogniser, gone) == []
    assert matched(world, recogniser, kept) == [kept.person_id]
    taken = world.enrol("missing", "shea_whigham")
    assert min(template_ids(world, taken.person_id)) > max(deleted)  # never handed out again
    assert recogniser.refresh() and recogniser.last_refresh == "followed"
    assert matched(world, recogniser, taken) == [taken.person_id]
    assert sorted(recogniser.gallery.template_ids()) == sorted(
        template_ids(world, kept.person_id) + template_ids(world, taken.person_id)
    )


def test_an_inverted_file_is_rebuilt_once_deletes_have_masked_a_quarter_of_it(world: World):
    names = ("angelina_jolie", "paul_rudd", "shea_whigham", "kate_siegel")
    entries = [world.enrol("missing", name) for name in names]
    recogniser = Recogniser(
        world.db, MatchingConfig(exact_search_limit=2), world.analyzer.model,
        world.analyzer.embedder.dimension, cipher=world.media.cipher,
    )  # fmt: skip
    assert recogniser.gallery.kind == "ivf"

    delete_person(world.db, world.media, "user:alice", entries[1].person_id, "found")
    assert recogniser.refresh()
    assert (recogniser.last_refresh, recogniser.gallery.masked) == ("followed", 1)  # a quarter

    delete_person(world.db, world.media, "user:alice", entries[2].person_id, "found")
    assert recogniser.refresh()
    assert (recogniser.last_refresh, recogniser.gallery.masked) == ("rebuilt", 0)  # a half
    kept = template_ids(world, entries[0].person_id) + template_ids(world, entries[3].person_id)
    assert sorted(recogniser.gallery.template_ids()) == sorted(kept)
    assert matched(world, recogniser, entries[2]) == []


def template_ids(world: World, person_id: int) -> list[int]:
    with world.db.session(readonly=True) as s:
        query = select(Template.id).where(Template.person_id == person_id)
        return sorted(s.scalars(query))


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
