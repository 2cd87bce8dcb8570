"""Investigations over HTTP: every refusal is a 403 that says why; every look is audited."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from case_kit import CLIP_START
from sqlalchemy import select

from support.live_api import LiveApi, serve
from watchkeeper.api.app import create_app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP
from watchkeeper.policy import audit
from watchkeeper.store.models import AuditEvent
from watchkeeper.vision import FaceAnalyzer

PHOTOS = Path(__file__).parents[3] / "examples" / "data"


@pytest.fixture
def api(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[LiveApi]:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    shutil.copyfile(CLIP, recordings / f"arcade_{CLIP_START:%Y%m%d-%H%M%S}.mp4")
    settings = load_settings(
        data_dir=tmp_path / "data",
        api={"cookie_secure": False},
        investigations={"recordings_dir": str(recordings), "workers": 1},
    )
    ctx = AppContext(settings, actor="test")
    ctx.__dict__["analyzer"] = analyzer
    app = create_app(ctx)
    server, thread, url = serve(app)
    live = LiveApi(url, app, ctx)
    for name, role in (("ivan", "operator"), ("sue", "supervisor"), ("tom", "supervisor"),
                       ("carol", "auditor")):  # fmt: skip
        live.add_user(name, role)
    yield live
    server.should_exit = True
    thread.join(timeout=10)
    ctx.close()


def _case_body(**changes: object) -> dict[str, object]:
    body = {
        "reference": "MP-77",
        "purpose": "missing_person",
        "legal_basis": "missing child, s. 17 police act",
        "window_start": (CLIP_START - timedelta(hours=1)).isoformat(),
        "window_end": (CLIP_START + timedelta(hours=1)).isoformat(),
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "cameras": ["arcade"],
    }
    return body | changes


def test_a_case_goes_from_request_to_evidence_with_four_eyes_and_every_step_audited(
    api: LiveApi, probe_jpeg: bytes
):
    ivan, sue, tom, carol = (api.login(n) for n in ("ivan", "sue", "tom", "carol"))
    created = ivan.post("/api/v1/cases", json=_case_body())
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["state"] == "pending" and case["requested_by"] == "user:ivan"
    base = f"/api/v1/cases/{case['id']}"

    # Nobody searches before a second person approved; nobody approves their own case.
    probe = ivan.post(f"{base}/probes", files=[("photos", ("probe.jpg", probe_jpeg, "image/jpeg"))])
    assert probe.status_code == 201, probe.text
    early = ivan.post(f"{base}/search", json={})
    assert early.status_code == 403 and "not approved yet" in early.json()["detail"]
    assert ivan.post(f"{base}/scans", json={"paths": ["."]}).status_code == 403
    assert ivan.post(f"{base}/approve", json={}).status_code == 403  # lacks cases:approve
    assert carol.get("/api/v1/cases").status_code == 403  # auditors do not see cases
    sue_case = sue.post("/api/v1/cases", json=_case_body(reference="MP-78")).json()
    own = sue.post(f"/api/v1/cases/{sue_case['id']}/approve", json={})
    assert own.status_code == 403 and "cannot approve it" in own.json()["detail"]
    approved = sue.post(f"{base}/approve", json={"comment": "warrant seen"})
    assert approved.status_code == 200 and approved.json()["state"] == "active"

    # Probes: one usable face or a clear refusal.
    couple = (PHOTOS / "deepface-pairs" / "couple.jpg").read_bytes()
    two = ivan.post(f"{base}/probes", files=[("photos", ("couple.jpg", couple, "image/jpeg"))])
    assert two.status_code == 422 and "2 faces found" in two.json()["detail"]

    # Searches stay inside the window and scope.
    outside = ivan.post(f"{base}/search", json={"cameras": ["platform-9"]})
    assert outside.status_code == 403 and "outside the camera scope" in outside.json()["detail"]
    late = {"start": (CLIP_START + timedelta(hours=5)).isoformat()}
    assert ivan.post(f"{base}/search", json=late).status_code == 403
    escape = ivan.post(f"{base}/scans", json={"paths": ["../../etc"]})
    assert escape.status_code == 403 and "outside the recordings folder" in escape.json()["detail"]
    assert ivan.post(f"{base}/search", json={}).json()["hits"] == 0  # nothing archived here

    started = ivan.post(f"{base}/scans", json={"paths": ["."]})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while (progress := ivan.get(f"{base}/scans").json())["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    (recording,) = progress["recordings"]
    assert (recording["state"], recording["progress"], progress["error"]) == ("done", 1.0, None)

    found = ivan.get(f"{base}/results").json()
    best = found["candidates"][0]
    assert best["rank"] == 1 and best["first_frame"] <= 5 <= best["last_frame"]
    assert list(found["timeline"]) == ["arcade"]
    crop = ivan.get(best["crop_url"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    reviewed = ivan.post(f"{base}/candidates/{best['id']}/review", json={"decision": "is_person"})
    assert reviewed.json()["review"] == "is_person"

    # Evidence leaves only under a second person's approval, once.
    asked = ivan.post(f"{base}/exports", json={"reason": "hand to the family liaison"}).json()
    early_export = ivan.post(f"{base}/exports/{asked['approval_id']}")
    assert early_export.status_code == 409 and "supervisor must approve" in early_export.text
    assert tom.post(f"/api/v1/approvals/{asked['approval_id']}/approve", json={}).status_code == 200
    collected = ivan.post(f"{base}/exports/{asked['approval_id']}")
    assert collected.status_code == 200, collected.text
    with zipfile.ZipFile(io.BytesIO(collected.content)) as archive:
        document = json.loads(archive.read("evidence.json"))
        assert "evidence.html" in archive.namelist()
    assert document["case"]["reference"] == "MP-77"
    assert document["candidates"][0]["review"] == "is_person"
    assert ivan.post(f"{base}/exports/{asked['approval_id']}").status_code == 409

    closed = ivan.post(f"{base}/close", json={"reason": "child found safe"})
    assert closed.json()["state"] == "closed"
    after = ivan.post(f"{base}/search", json={})
    assert after.status_code == 403 and "was closed" in after.json()["detail"]
    assert ivan.get("/api/v1/cases/999").status_code == 404

    with api.ctx.db.session(readonly=True) as s:
        assert audit.verify(s).ok
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {
        "case.open", "case.approve", "case.probe.add", "case.search.archive", "case.scan",
        "case.scan.file", "case.view.results", "case.view.crop", "case.candidate.review",
        "export.perform", "case.close",
    } <= actions  # fmt: skip


def test_a_supervisor_refuses_a_pending_case_over_http_and_it_is_closed_and_audited(
    api: LiveApi,
):
    ivan, tom = api.login("ivan"), api.login("tom")
    case = ivan.post("/api/v1/cases", json=_case_body(reference="MP-79")).json()

    refused = tom.post(f"/api/v1/cases/{case['id']}/refuse", json={"reason": "no legal basis"})

    assert refused.status_code == 200, refused.text
    assert refused.json()["state"] == "closed"
    with api.ctx.db.session(readonly=True) as s:
        actions = [
            e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.actor == "user:tom"))
        ]
    assert "case.refuse" in actions
