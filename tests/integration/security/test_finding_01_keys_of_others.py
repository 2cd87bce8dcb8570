"""Finding 1: an admin minted keys "of" other users and passed the two-person rules alone."""

from __future__ import annotations

from security_kit import audit_events, bearer, raise_alert
from sqlalchemy import select

from support.live_api import LiveApi
from watchkeeper.store.auth import ApiKey


def _keys_of(api: LiveApi, user_id: int) -> list[ApiKey]:
    with api.ctx.db.session(readonly=True) as s:
        return list(s.scalars(select(ApiKey).where(ApiKey.user_id == user_id)))


def test_finding_01_an_admin_cannot_mint_a_key_for_another_user(api: LiveApi):
    api.add_user("root", "admin")
    sup1 = api.add_user("sup1", "supervisor")
    admin = api.login("root")
    reply = admin.post(
        "/api/v1/apikeys", json={"name": "x", "user": "sup1", "scopes": ["alerts:review"]}
    )
    assert reply.status_code == 403
    assert "owner" in reply.json()["detail"]
    assert _keys_of(api, sup1) == []
    assert audit_events(api, "apikey.create") == []


def test_finding_01_an_admin_still_lists_and_revokes_the_keys_of_others(api: LiveApi):
    api.add_user("root", "admin")
    api.add_user("sup1", "supervisor")
    own = api.login("sup1").post("/api/v1/apikeys", json={"name": "vms"})
    assert own.status_code == 201 and own.json()["user"] == "sup1"
    admin = api.login("root")
    listed = admin.get("/api/v1/apikeys", params={"all": "true"}).json()["items"]
    assert [(k["user"], k["name"]) for k in listed] == [("sup1", "vms")]
    assert admin.delete(f"/api/v1/apikeys/{own.json()['id']}").status_code == 204
    with bearer(api, own.json()["token"]) as revoked:
        assert revoked.get("/api/v1/alerts").status_code == 401
    assert [actor for _, actor, _ in audit_events(api, "apikey.revoke")] == ["user:root"]


def test_finding_01_two_person_confirmation_counts_the_human_behind_keys(api: LiveApi):
    alert_id = raise_alert(api.ctx, confirmations=2)
    api.add_user("sup1", "supervisor")
    session = api.login("sup1")
    token = session.post("/api/v1/apikeys", json={"name": "x"}).json()["token"]
    review = f"/api/v1/alerts/{alert_id}/review"
    assert session.post(review, json={"decision": "confirm"}).status_code == 200
    with bearer(api, token) as key:
        again = key.post(review, json={"decision": "confirm"})
    assert again.status_code == 409
    [(_, actor, _)] = audit_events(api, "alert.review")
    assert actor == "user:sup1"
