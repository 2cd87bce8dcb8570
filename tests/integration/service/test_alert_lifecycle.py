"""Alerts in the store: raised with their outbox rows in one transaction, folded, reviewed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from watchkeeper.alerts import AlertService, CameraRef, EventBroker, ReviewError
from watchkeeper.config import NotificationsConfig, WebhookConfig
from watchkeeper.domain import Match, Sighting
from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore, StoreError, outbox, repository
from watchkeeper.store import alerts as alert_store
from watchkeeper.store.models import AuditEvent

T0 = 1_800_000_000.0
HOOK = "http://127.0.0.1:9/hook"
AUDIT = select(AuditEvent).order_by(AuditEvent.seq)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    database.migrate()
    return database


def make_service(db: Database, tmp_path: Path, window_s: float = 60.0) -> AlertService:
    config = NotificationsConfig(
        dedupe_window_s=window_s,
        webhooks=[WebhookConfig(url=HOOK, secret="s" * 32)],
        mqtt={"enabled": True},
    )
    return AlertService(db, MediaStore(tmp_path / "media"), config, EventBroker())


def person(db: Database, confirmations: int = 1, name: str = "P") -> tuple[int, int]:
    with db.session() as s:
        wl = repository.create_watchlist(
            s,
            f"list {name}",
            "wanted_person",
            "warrant 1",
            "unit",
            confirmations_required=confirmations,
        )
        return repository.add_person(s, wl, name, "wanted", None, "test").id, wl.id


def sighting(camera: str, start: float, track: int = 1) -> Sighting:
    rng = np.random.default_rng(track)
    vector = rng.normal(size=(1, 128)).astype(np.float32)
    return Sighting(
        camera=camera, track_id=track, started_at=start, ended_at=start + 2.0, first_frame=0,
        last_frame=10, detections=10, best_frame=5, best_box=np.array([0, 0, 40, 40], np.float32),
        best_crop=rng.integers(0, 255, (48, 48, 3), dtype=np.uint8), best_quality=0.8,
        templates=vector / np.linalg.norm(vector), model="sface@1",
    )  # fmt: skip


def match(camera: str, person_id: int, watchlist_id: int, score: float = 0.6) -> Match:
    return Match(camera, 1, person_id, watchlist_id, score, 0.363, 0, "sface@1")


def raise_alert(service: AlertService, camera: str, start: float, pid: int, wid: int, **kw):
    ref = CameraRef(camera, f"rtsp://{camera}/x", "test")
    return service.record(ref, [(sighting(camera, start), [match(camera, pid, wid, **kw)])])


def test_a_match_raises_an_alert_with_one_outbox_row_per_target(db, tmp_path):
    service = make_service(db, tmp_path)
    pid, wid = person(db)
    changes = raise_alert(service, "gate", T0, pid, wid)
    assert [c.type for c in changes] == ["alert.created"]
    alert_id = changes[0].alert_id
    with db.session() as s:
        rows = outbox.list_messages(s)
        view = alert_store.view_alert(s, alert_id)
        assert view.crop_sha256 is not None
        assert sorted((m.channel, m.target) for m in rows) == [
            ("mqtt", "mqtt://127.0.0.1:1883"),
            ("webhook", HOOK),
        ]
        assert {m.idempotency_key.split("-")[1] for m in rows} == {str(alert_id)}
        assert all(m.payload["alert"]["person"]["id"] == pid for m in rows)
        assert [e.action for e in s.scalars(AUDIT)][-2:] == ["match.record", "alert.raise"]
    assert service.broker is not None and service.broker.subscribers == 0


def test_a_failed_recording_leaves_no_sighting_no_alert_and_no_outbox_row(db, tmp_path):
    service = make_service(db, tmp_path)
    pid, wid = person(db)
    with pytest.raises(StoreError):  # the match names a person who does not exist
        raise_alert(service, "gate", T0, pid + 99, wid)
    with db.session() as s:
        counts = repository.counts(s)
    assert counts["sightings"] == counts["alerts"] == counts["outbox"] == 0


def test_the_same_person_on_the_same_camera_within_the_window_folds_into_one_alert(db, tmp_path):
    service = make_service(db, tmp_path, window_s=60)
    pid, wid = person(db)
    first = raise_alert(service, "gate", T0, pid, wid, score=0.5)[0]
    again = raise_alert(service, "gate", T0 + 30, pid, wid, score=0.7)[0]
    elsewhere = raise_alert(service, "hall", T0 + 31, pid, wid)[0]
    later = raise_alert(service, "gate", T0 + 32 + 61, pid, wid)[0]
    assert again.type == "alert.updated" and again.alert_id == first.alert_id
    assert elsewhere.type == later.type == "alert.created"
    assert len({first.alert_id, elsewhere.alert_id, later.alert_id}) == 3
    with db.session() as s:
        folded = alert_store.view_alert(s, first.alert_id)
        assert folded.alert.count == 2
        assert folded.alert.score == pytest.approx(0.7)  # shows the best sighting
        assert folded.alert.last_seen.timestamp() == pytest.approx(T0 + 32)
        assert len(alert_store.alert_sightings(s, first.alert_id)) == 2
        per_alert = [m.alert_id for m in outbox.list_messages(s)]
    assert sorted(per_alert).count(first.alert_id) == 2  # webhook + mqtt, once, not per sighting


def test_two_person_rule_needs_two_different_reviewers(db, tmp_path):
    service = make_service(db, tmp_path)
    pid, wid = person(db, confirmations=2)
    alert_id = raise_alert(service, "gate", T0, pid, wid)[0].alert_id

    def review(user_id: int, decision: str) -> dict:
        return service.review(
            alert_id, user_id=user_id, reviewer=f"user{user_id}", actor=f"user:user{user_id}",
            decision=decision, comment="seen on screen",
        )  # fmt: skip

    once = review(1, "confirm")
    assert (once["state"], once["actionable"], once["confirmed_by"]) == ("new", False, ["user1"])
    with pytest.raises(ReviewError, match="already confirmed"):
        review(1, "confirm")
    twice = review(2, "confirm")
    assert (twice["state"], twice["actionable"]) == ("confirmed", True)
    assert twice["confirmed_by"] == ["user1", "user2"]
    with pytest.raises(ReviewError, match="already confirmed"):
        review(3, "reject")
    with db.session() as s:
        reviews = [(r.user_id, r.decision) for r in alert_store.reviews_of(s, alert_id)]
        events = [e for e in s.scalars(AUDIT) if e.action == "alert.review"]
        assert audit.verify(s).ok
    assert reviews == [(1, "confirm"), (2, "confirm")]
    assert [e.actor for e in events] == ["user:user1", "user:user2"]


def test_one_rejection_rejects_and_escalation_keeps_the_alert_open(db, tmp_path):
    service = make_service(db, tmp_path)
    pid, wid = person(db, confirmations=2)
    first = raise_alert(service, "gate", T0, pid, wid)[0].alert_id
    second = raise_alert(service, "hall", T0, pid, wid)[0].alert_id
    service.review(first, user_id=1, reviewer="a", actor="a", decision="confirm")
    rejected = service.review(first, user_id=2, reviewer="b", actor="b", decision="reject")
    escalated = service.review(second, user_id=1, reviewer="a", actor="a", decision="escalate")
    confirmed = service.review(second, user_id=2, reviewer="b", actor="b", decision="confirm")
    assert rejected["state"] == "rejected"
    assert escalated["state"] == "escalated"
    assert confirmed["state"] == "escalated"  # one confirmation of two
    with pytest.raises(ReviewError, match="not one of"):
        service.review(second, user_id=3, reviewer="c", actor="c", decision="approve")
