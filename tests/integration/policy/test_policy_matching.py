"""The rules a recogniser obeys: authorisation, expiry, review, four-eyes approval, and the
counts of what they blocked. Real SQLite, real models, real embeddings of real photos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from support.policy_world import World, make_world, sighting_of
from watchkeeper.policy import approvals, deployments
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.policy.eligibility import explain, load_snapshot
from watchkeeper.policy.review import ReviewError, review_watchlist
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.policy import ActivityCount
from watchkeeper.vision import FaceAnalyzer

NOW = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path, analyzer: FaceAnalyzer) -> World:
    return make_world(tmp_path, analyzer)


def counts(world: World) -> dict[str, int]:
    with world.db.session(readonly=True) as s:
        rows = list(s.scalars(select(ActivityCount)))
        return {name: sum(getattr(r, name) for r in rows) for name in policy_store.COUNTED}


def test_a_camera_outside_an_authorisation_does_not_match_and_one_inside_does(world: World):
    world.watchlist("missing")
    enrolled = world.enrol("missing")
    world.camera("gate-1", "airport")
    world.camera("mall-1", "mall")
    model = world.analyzer.model

    recogniser = world.recogniser()
    assert recogniser.match(sighting_of(enrolled, "gate-1", NOW, model)) == []

    world.authorise("missing", "airport")
    recogniser.refresh()
    matched = recogniser.match(sighting_of(enrolled, "gate-1", NOW, model))
    assert [m.person_id for m in matched] == [enrolled.person_id]
    assert recogniser.match(sighting_of(enrolled, "mall-1", NOW, model)) == []
    assert world.audit_ok()


def test_a_sighting_outside_the_deployment_period_does_not_match(world: World):
    world.watchlist("missing")
    enrolled = world.enrol("missing")
    world.camera("gate-1", "airport")
    start, end = NOW - timedelta(hours=2), NOW + timedelta(hours=2)
    world.authorise("missing", "airport", start, end)
    recogniser = world.recogniser()
    model = world.analyzer.model
    assert recogniser.match(sighting_of(enrolled, "gate-1", NOW, model))
    assert (
        recogniser.match(sighting_of(enrolled, "gate-1", start - timedelta(seconds=1), model)) == []
    )
    assert recogniser.match(sighting_of(enrolled, "gate-1", end, model)) == []


def test_a_revoked_deployment_stops_matching_at_the_next_refresh(world: World):
    world.watchlist("missing")
    enrolled = world.enrol("missing")
    deployment = world.authorise("missing", "default")
    recogniser = world.recogniser()
    assert recogniser.match(sighting_of(enrolled, "cam", NOW, world.analyzer.model))
    with world.db.session() as s:
        deployments.revoke(s, deployment, "user:owner", "operation over")
    assert recogniser.refresh()
    assert recogniser.match(sighting_of(enrolled, "cam", NOW, world.analyzer.model)) == []
    assert "deployment.revoke" in world.actions()
    assert world.audit_ok()


def test_without_required_authorisation_every_list_matches_everywhere(world: World):
    world.watchlist("missing")
    enrolled = world.enrol("missing")
    recogniser = world.recogniser(require_authorisation=False)
    assert recogniser.match(sighting_of(enrolled, "any-camera", NOW, world.analyzer.model))


def test_an_expired_entry_does_not_match(world: World):
    world.watchlist("missing")
    world.authorise("missing", "default")
    expired = world.enrol("missing", expires_at=NOW - timedelta(minutes=1))
    valid = world.enrol("missing", who="paul_rudd", expires_at=NOW + timedelta(days=30))
    counters = ActivityCounters(world.db)
    recogniser = world.recogniser(counters=counters)
    model = world.analyzer.model
    assert recogniser.match(sighting_of(expired, "cam", NOW, model)) == []
    assert [m.person_id for m in recogniser.match(sighting_of(valid, "cam", NOW, model))] == [
        valid.person_id
    ]
    counters.flush()
    assert counts(world)["blocked_expired"] == 1
    assert counts(world)["sightings"] == 2


def test_an_entry_expiring_after_a_recording_still_does_not_match_it_once_expired(world: World):
    world.watchlist("missing")
    world.authorise("missing", "default")
    enrolled = world.enrol("missing", expires_at=NOW - timedelta(hours=1))
    recorded_before = NOW - timedelta(days=1)
    sighting = sighting_of(enrolled, "cam", recorded_before, world.analyzer.model)
    assert world.recogniser().match(sighting) == []


def test_a_watchlist_past_its_review_date_does_not_match_until_reviewed(world: World):
    world.watchlist("missing", review_by=NOW - timedelta(days=1))
    world.authorise("missing", "default")
    enrolled = world.enrol("missing")
    counters = ActivityCounters(world.db)
    recogniser = world.recogniser(counters=counters)
    model = world.analyzer.model
    assert recogniser.match(sighting_of(enrolled, "cam", NOW, model)) == []

    with world.db.session() as s, pytest.raises(ReviewError, match="future"):
        review_watchlist(s, "missing", NOW - timedelta(days=1), "still needed", "user:owner")
    with world.db.session() as s:
        review_watchlist(s, "missing", NOW + timedelta(days=90), "case still open", "user:owner")
    recogniser.refresh()
    assert recogniser.match(sighting_of(enrolled, "cam", NOW, model))
    counters.flush()
    assert counts(world)["blocked_review_overdue"] == 1
    assert "watchlist.review" in world.actions()
    assert world.audit_ok()


def test_a_pending_wanted_person_does_not_match_until_a_second_supervisor_approves(world: World):
    world.watchlist("wanted", purpose="wanted_person")
    world.authorise("wanted", "default")
    enrolled = world.enrol("wanted", actor="user:alice")
    assert enrolled.approval_id is not None
    recogniser = world.recogniser()
    model = world.analyzer.model
    assert recogniser.match(sighting_of(enrolled, "cam", NOW, model)) == []

    with world.db.session() as s, pytest.raises(approvals.ApprovalForbidden, match="alice"):
        approvals.approve(s, enrolled.approval_id, "cli:alice", "supervisor")
    with world.db.session() as s, pytest.raises(approvals.ApprovalForbidden, match="supervisor"):
        approvals.approve(s, enrolled.approval_id, "user:carol", "operator")
    recogniser.refresh()
    assert recogniser.match(sighting_of(enrolled, "cam", NOW, model)) == []

    with world.db.session() as s:
        approvals.approve(s, enrolled.approval_id, "user:bob (api key 3)", "supervisor")
    recogniser.refresh()
    assert [m.person_id for m in recogniser.match(sighting_of(enrolled, "cam", NOW, model))] == [
        enrolled.person_id
    ]
    with world.db.session() as s, pytest.raises(approvals.ApprovalError, match="already approved"):
        approvals.approve(s, enrolled.approval_id, "user:dave", "supervisor")
    assert world.actions()[-2:] == ["approval.request", "approval.approve"]
    assert world.audit_ok()


def test_a_rejected_wanted_person_enrolment_is_deleted_with_its_photos(world: World):
    world.watchlist("wanted", purpose="wanted_person")
    enrolled = world.enrol("wanted", actor="user:alice")
    assert len(world.media.shas()) == 1
    with world.db.session() as s:
        freed = approvals.reject(s, enrolled.approval_id, "user:bob", "supervisor", "no warrant")
    for sha in freed:
        world.media.delete(sha)
    with world.db.session(readonly=True) as s:
        assert repository.list_persons(s) == []
        assert policy_store.get_approval(s, enrolled.approval_id).state == "rejected"
    assert world.media.shas() == []
    assert world.audit_ok()


def test_other_lists_need_no_approval(world: World):
    world.watchlist("missing")
    assert world.enrol("missing").approval_id is None


def test_the_explanation_names_the_list_the_group_and_the_time(world: World):
    wl = world.watchlist("wanted-2026", purpose="wanted_person")
    at = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    with world.db.session(readonly=True) as s:
        rules = load_snapshot(s, require_authorisation=True)
    assert explain(rules, wl, "airport", at, now=at) == (
        "watchlist wanted-2026 has no authorisation for camera group airport at "
        "2026-11-27 10:00 UTC"
    )
    deployment = world.authorise(
        "wanted-2026", "airport", at - timedelta(hours=1), at + timedelta(hours=1)
    )
    with world.db.session(readonly=True) as s:
        rules = load_snapshot(s, require_authorisation=True)
    assert f"under deployment {deployment}" in explain(rules, wl, "airport", at, now=at)


def test_blocked_matches_are_counted_by_reason_with_no_identity(world: World):
    world.watchlist("missing")
    enrolled = world.enrol("missing")
    counters = ActivityCounters(world.db)
    recogniser = world.recogniser(counters=counters)
    for _ in range(3):
        assert recogniser.match(sighting_of(enrolled, "cam", NOW, world.analyzer.model)) == []
    counters.flush()
    assert counts(world) == {
        "frames": 0, "faces": 0, "sightings": 3, "blocked_expired": 0,
        "blocked_not_authorised": 3, "blocked_review_overdue": 0, "blocked_pending_approval": 0,
    }  # fmt: skip
    with world.db.session(readonly=True) as s:
        columns = {c.name for c in ActivityCount.__table__.columns}
        assert columns == {"hour", "camera", *policy_store.COUNTED}
        assert repository.counts(s)["sightings"] == 0
