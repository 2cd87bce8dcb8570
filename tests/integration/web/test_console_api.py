"""The two API endpoints the console added: the audit log's pages and verification, and the
photo check that shows a face before enrolment. Over real HTTP, on real faces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select, update

from support.live_api import LiveApi, serve
from watchkeeper.api.app import create_app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP, probe_photo, read_frame
from watchkeeper.policy import audit
from watchkeeper.store.models import AuditEvent, Person
from watchkeeper.vision import FaceAnalyzer

EXAMPLES = Path(__file__).parents[3] / "examples" / "data"


@pytest.fixture
def api(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[LiveApi]:
    settings = load_settings(data_dir=tmp_path / "data", api={"cookie_secure": False})
    ctx = AppContext(settings, actor="test")
    ctx.__dict__["analyzer"] = analyzer  # the session's models, loaded once
    app = create_app(ctx)
    server, thread, url = serve(app)
    live = LiveApi(url, app, ctx)
    for username, role in [("sue", "supervisor"), ("olga", "operator"), ("audrey", "auditor")]:
        live.add_user(username, role)
    yield live
    server.should_exit = True
    thread.join(10)
    ctx.close()


def record(api: LiveApi, actor: str, action: str, n: int) -> None:
    with api.ctx.db.session() as s:
        for i in range(n):
            audit.record(s, actor, action, "thing", i)


def test_audit_events_come_newest_first_page_by_page_and_filtered(api):
    record(api, "user:sue", "camera.add", 3)
    record(api, "user:olga", "alert.review", 4)
    auditor = api.login("audrey")  # itself an event: auth.login
    first = auditor.get("/api/v1/audit/events", params={"limit": 5}).json()
    seqs = [e["seq"] for e in first["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 5
    assert first["items"][0]["action"] == "auth.login"
    following, url = [], first["next"]
    while url:
        page = auditor.get(url).json()
        following += [e["seq"] for e in page["items"]]
        url = page["next"]
    assert following == list(range(seqs[-1] - 1, 0, -1))  # nothing skipped or repeated
    reviews = auditor.get("/api/v1/audit/events", params={"action": "alert."}).json()["items"]
    assert [e["action"] for e in reviews] == ["alert.review"] * 4
    by_sue = auditor.get("/api/v1/audit/events", params={"actor": "sue"}).json()["items"]
    assert {e["actor"] for e in by_sue} == {"user:sue"} and len(by_sue) == 3
    literal = auditor.get("/api/v1/audit/events", params={"action": "%"}).json()["items"]
    assert literal == []  # a LIKE wildcard is matched literally
    assert by_sue[0]["details"] is None and len(by_sue[0]["hash"]) == 64


def test_verify_names_the_first_broken_link_after_a_row_is_edited(api):
    record(api, "user:sue", "camera.add", 3)
    auditor = api.login("audrey")
    intact = auditor.get("/api/v1/audit/verify").json()
    assert intact["ok"] is True and intact["checked"] == intact["head_seq"] >= 4
    with api.ctx.db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="user:mallory"))
    broken = auditor.get("/api/v1/audit/verify").json()
    assert broken["ok"] is False and broken["first_broken_seq"] == 2
    assert "altered" in broken["problem"] and broken["checked"] == 1


def test_only_roles_with_audit_read_see_the_audit_log(api):
    operator = api.login("olga")
    assert operator.get("/api/v1/audit/events").status_code == 403
    assert operator.get("/api/v1/audit/verify").status_code == 403


def test_a_photo_check_shows_the_face_and_its_quality_and_stores_nothing(api):
    photo, _ = probe_photo(api.ctx, read_frame(CLIP, 5))
    supervisor = api.login("sue")
    with api.ctx.db.session(readonly=True) as s:
        events_before = s.scalar(select(func.count()).select_from(AuditEvent))
    reply = supervisor.post(
        "/api/v1/photos/check",
        files={"photo": ("passer-by.jpg", photo, "image/jpeg")},
        data={"largest_face": "true"},
    )
    assert reply.status_code == 200, reply.text
    checked = reply.json()
    assert checked["source"] == "passer-by.jpg" and checked["faces_found"] >= 1
    assert checked["quality"] >= checked["min_quality"] > 0
    x1, y1, x2, y2 = checked["face_box"]
    assert 0 <= x1 < x2 <= checked["width"] and 0 <= y1 < y2 <= checked["height"]
    with api.ctx.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == events_before
    media = api.ctx.settings.data_dir / "media"
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_an_unusable_photo_is_refused_with_the_reason_as_a_problem(api):
    supervisor = api.login("sue")
    blank = cv2.imencode(".jpg", np.full((480, 640, 3), 127, np.uint8))[1].tobytes()
    empty = EXAMPLES / "facenet-pytorch" / "test_images" / "bradley_cooper" / "1.jpg"
    for name, data, status, reason in [
        ("blank.jpg", blank, 422, "blank.jpg: no face found"),
        ("empty.jpg", empty.read_bytes(), 415, "the file is empty"),
        ("notes.jpg", b"just some text", 415, "not an image"),
    ]:
        reply = supervisor.post("/api/v1/photos/check", files={"photo": (name, data)})
        assert reply.status_code == status, (name, reply.text)
        assert reply.headers["content-type"] == "application/problem+json"
        assert reason in reply.json()["detail"]


def test_an_operator_may_not_check_photos(api):
    reply = api.login("olga").post("/api/v1/photos/check", files={"photo": ("a.jpg", b"x")})
    assert reply.status_code == 403 and "persons:write" in reply.json()["detail"]
