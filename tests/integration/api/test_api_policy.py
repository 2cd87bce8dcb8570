"""Accountability over HTTP: deployments, four-eyes approvals, exports and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.live_api import LiveApi
from watchkeeper.policy import audit

PHOTO = Path(__file__).parents[3] / "examples" / "data" / "facenet-pytorch" / "test_images"


@pytest.fixture
def users(api: LiveApi) -> LiveApi:
    for name, role in (("alice", "supervisor"), ("bob", "supervisor"), ("olga", "operator"),
                       ("carol", "auditor")):  # fmt: skip
        api.add_user(name, role)
    return api


def _watchlist(client, purpose: str = "missing_person") -> int:
    body = {"name": f"list-{purpose}", "purpose": purpose, "legal_basis": "b", "owner": "o"}
    reply = client.post("/api/v1/watchlists", json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]


def test_deployments_are_created_checked_and_revoked_by_supervisors_only(users: LiveApi):
    alice, olga = users.login("alice"), users.login("olga")
    watchlist = _watchlist(alice)
    check = {"watchlist_id": watchlist, "camera_group": "airport", "at": "2026-11-27T10:00:00Z"}
    before = alice.get("/api/v1/deployments/check", params=check).json()
    assert before == {
        "matched": False,
        "explanation": "watchlist list-missing_person has no authorisation for camera group "
        "airport at 2026-11-27 10:00 UTC",
    }
    body = {
        "watchlist_id": watchlist, "camera_group": "airport", "starts_at": "2026-11-27T00:00:00Z",
        "ends_at": "2026-11-28T00:00:00Z", "authorised_by": "Chief", "authorisation_ref": "A-1",
    }  # fmt: skip
    assert olga.post("/api/v1/deployments", json=body).status_code == 403
    created = alice.post("/api/v1/deployments", json=body)
    assert created.status_code == 201, created.text
    assert alice.get("/api/v1/deployments/check", params=check).json()["matched"] is True
    assert [d["authorisation_ref"] for d in olga.get("/api/v1/deployments").json()] == ["A-1"]
    backwards = alice.post("/api/v1/deployments", json=body | {"ends_at": "2026-11-26T00:00:00Z"})
    assert backwards.status_code == 400 and "must end after" in backwards.json()["detail"]
    revoked = alice.post(
        f"/api/v1/deployments/{created.json()['id']}/revoke", json={"reason": "done"}
    )
    assert revoked.json()["status"] == "revoked"
    assert alice.get("/api/v1/deployments/check", params=check).json()["matched"] is False


def test_a_wanted_person_is_approved_by_a_second_supervisor_not_the_first(users: LiveApi):
    alice, bob = users.login("alice"), users.login("bob")
    watchlist = _watchlist(alice, "wanted_person")
    photo = (PHOTO / "paul_rudd" / "1.jpg").read_bytes()
    enrolled = alice.post(
        f"/api/v1/watchlists/{watchlist}/persons",
        data={"name": "P. R.", "reason": "warrant"},
        files=[("photos", ("1.jpg", photo, "image/jpeg"))],
    )
    assert enrolled.status_code == 201, enrolled.text
    (pending,) = alice.get("/api/v1/approvals", params={"state": "pending"}).json()
    assert pending["object_id"] == str(enrolled.json()["id"])
    own = alice.post(f"/api/v1/approvals/{pending['id']}/approve", json={})
    assert own.status_code == 403 and "cannot approve" in own.json()["detail"]
    approved = bob.post(f"/api/v1/approvals/{pending['id']}/approve", json={"comment": "ok"})
    assert approved.status_code == 200 and approved.json()["approved_by"] == "user:bob"
    again = bob.post(f"/api/v1/approvals/{pending['id']}/approve", json={})
    assert again.status_code == 409


def test_an_audit_export_is_collected_once_under_an_approval(users: LiveApi):
    carol, alice = users.login("carol"), users.login("alice")
    requested = carol.post("/api/v1/approvals/exports", json={"reason": "oversight board"})
    assert requested.status_code == 201
    export = f"/api/v1/approvals/{requested.json()['id']}/export"
    assert carol.post(export).status_code == 409  # not approved yet
    assert alice.post(f"/api/v1/approvals/{requested.json()['id']}/approve", json={}).is_success
    assert alice.post(export).status_code == 403  # approved for carol, not alice
    collected = carol.post(export)
    assert collected.status_code == 200
    events = [json.loads(line) for line in collected.text.splitlines()]
    assert collected.headers["X-Audit-Head"] == f"{events[-1]['seq']}:{events[-1]['hash']}"
    assert carol.post(export).status_code == 409  # used
    with users.ctx.db.session(readonly=True) as s:
        assert audit.verify(s).ok


def test_the_report_is_served_as_json_and_html_to_those_who_may_read_it(users: LiveApi):
    carol, olga = users.login("carol"), users.login("olga")
    period = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    assert olga.get("/api/v1/policy/report", params=period).status_code == 403
    report = carol.get("/api/v1/policy/report", params=period)
    assert report.status_code == 200 and report.json()["audit"]["verified"] is True
    page = carol.get("/api/v1/policy/report.html", params=period)
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("data:image/png;base64,") == 4
    backwards = carol.get(
        "/api/v1/policy/report", params={"from": period["to"], "to": period["from"]}
    )
    assert backwards.status_code == 422
