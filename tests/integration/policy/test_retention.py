"""The retention job and archive mode: what outlived its purpose leaves the disk, audited."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text

from support.policy_world import World, make_world, sighting_of
from watchkeeper.policy import retention
from watchkeeper.recognition import record_archived, record_matches
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.models import AuditEvent, Template, TemplateDeletion
from watchkeeper.store.policy import ArchivedSighting
from watchkeeper.usecases.persons import delete_person
from watchkeeper.vision import FaceAnalyzer

NOW = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path, analyzer: FaceAnalyzer) -> World:
    return make_world(tmp_path, analyzer)


def test_expired_entries_are_purged_after_the_grace_period_only(world: World):
    world.watchlist("missing")
    expired = world.enrol("missing", expires_at=NOW - timedelta(days=10))
    kept = world.enrol("missing", who="paul_rudd", expires_at=NOW + timedelta(days=10))
    assert len(world.media.shas()) == 2

    early = retention.purge(world.db, world.media, grace_days=30, now=NOW)
    assert early.persons == 0 and len(world.media.shas()) == 2

    report = retention.purge(world.db, world.media, grace_days=30, now=NOW + timedelta(days=21))
    assert (report.persons, report.files) == (1, 1)
    with world.db.session(readonly=True) as s:
        assert [p.id for p in repository.list_persons(s)] == [kept.person_id]
        assert repository.counts(s)["templates"] == 1
    assert world.media.shas() == [hashlib.sha256(kept.photos[0].data).hexdigest()]
    with world.db.session(readonly=True) as s:
        purges = s.scalars(select(AuditEvent).where(AuditEvent.action == "person.purge")).all()
        assert [e.object_id for e in purges] == [str(expired.person_id)]
        assert purges[0].actor == "system:retention"
    assert world.audit_ok()


def test_the_purge_drops_notes_of_deleted_templates_once_a_day_old(world: World):
    world.watchlist("missing")
    gone = world.enrol("missing")
    delete_person(world.db, world.media, "user:alice", gone.person_id, "found")

    def notes() -> list[int]:
        with world.db.session(readonly=True) as s:
            return list(s.scalars(select(TemplateDeletion.template_id)))

    assert len(notes()) == 1  # what running galleries read to mask the template
    retention.purge(world.db, world.media, grace_days=30, now=datetime.now(UTC))
    assert len(notes()) == 1
    retention.purge(world.db, world.media, grace_days=30, now=datetime.now(UTC) + timedelta(days=2))
    assert notes() == []


def test_the_purge_mends_a_count_of_templates_changed_behind_the_triggers_and_audits_it(
    world: World,
):
    world.watchlist("missing")
    world.enrol("missing")
    model = world.analyzer.model
    with world.db.session(readonly=True) as s:
        truth = repository.counted_template_tally(s, model)
    quiet = retention.purge(world.db, world.media, grace_days=30, now=NOW)
    assert quiet.persons == 0 and not tally_events(world)  # nothing to mend: nothing said
    with world.db.session() as s:  # the row gone, as a restore with the triggers off leaves it
        s.execute(text("DROP TRIGGER template_tallied_out"))
        s.execute(delete(Template))
    with world.db.session(readonly=True) as s:
        assert repository.template_tally(s, model) == truth  # the kept numbers did not see it

    retention.purge(world.db, world.media, grace_days=30, now=NOW)

    with world.db.session(readonly=True) as s:
        assert repository.template_tally(s, model) == (0, 0)
    events = tally_events(world)
    assert [(e.object_id, e.actor) for e in events] == [(model, "system:retention")]
    assert json.loads(events[0].details) == {"counted": [0, 0], "kept": list(truth)}
    assert world.audit_ok()


def tally_events(world: World) -> list[AuditEvent]:
    with world.db.session(readonly=True) as s:
        query = select(AuditEvent).where(AuditEvent.action == "templates.tally_mended")
        return list(s.scalars(query))


def test_archive_mode_keeps_unmatched_sightings_with_an_expiry_and_the_purge_removes_them(
    world: World,
):
    world.watchlist("missing")
    passer_by = world.enrol("missing")  # only used for a realistic template
    with world.db.session() as s:
        freed = repository.delete_person(s, repository.get_person(s, passer_by.person_id))
    for sha in freed:
        world.media.delete(sha)
    world.camera("platform-3", "station")
    assert world.recogniser().archive_days("platform-3") is None  # off by default

    retention.set_archive(world.db, "station", 7, "user:owner", "retrospective search pilot")
    recogniser = world.recogniser()
    assert recogniser.archive_days("platform-3") == 7
    sighting = sighting_of(passer_by, "platform-3", NOW, world.analyzer.model)
    assert recogniser.match(sighting) == []
    with pytest.raises(ValueError, match="must not be stored"):
        record_matches(world.db, world.media, "file:platform-3", [(sighting, [])])

    before = datetime.now(UTC)
    ids = record_archived(world.db, world.media, "file:platform-3", [sighting], 7)
    after = datetime.now(UTC)
    with world.db.session(readonly=True) as s:
        row = s.get(ArchivedSighting, ids[0])
        assert row is not None and row.camera_group == "station"
        assert before + timedelta(days=7) <= row.expires_at <= after + timedelta(days=7)
        templates = policy_store.archived_templates(s, world.analyzer.model)
        assert [sighting_id for _, sighting_id, _ in templates] == ids
        crop = repository.counts(s)
        assert crop["sightings"] == 1 and crop["sighting_templates"] == 1
    assert len(world.media.shas()) == 1  # the crop (the person's photo was deleted)

    early = retention.purge(world.db, world.media, 30, now=NOW + timedelta(days=6))
    assert early.archived_sightings == 0
    report = retention.purge(world.db, world.media, 30, now=NOW + timedelta(days=8))
    assert (report.archived_sightings, report.files) == (1, 1)
    with world.db.session(readonly=True) as s:
        left = repository.counts(s)
        assert left["sightings"] == left["sighting_templates"] == left["archived_sightings"] == 0
    assert world.media.shas() == []
    assert {"camera_group.archive", "sighting.archive", "archive.purge"} <= set(world.actions())
    assert world.audit_ok()


def test_archive_mode_can_be_turned_off_again(world: World):
    retention.set_archive(world.db, "station", 7, "user:owner", "pilot")
    retention.set_archive(world.db, "station", 0, "user:owner", "pilot over")
    with world.db.session(readonly=True) as s:
        assert policy_store.archive_days(s) == {}
    with pytest.raises(ValueError, match="archive mode is off"):
        record_archived(world.db, world.media, "x", [], 0)
