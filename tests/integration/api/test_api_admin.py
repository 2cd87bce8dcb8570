"""Users and watchlists over HTTP: admin duties, one's own password, watchlist changes."""

from __future__ import annotations

from sqlalchemy import select

from support.live_api import PASSWORD, LiveApi
from watchkeeper.store import repository
from watchkeeper.store.models import AuditEvent

NEW_PASSWORD = "an even longer passphrase"


def _last_event(api: LiveApi) -> AuditEvent:
    with api.ctx.db.session(readonly=True) as s:
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        return event


def test_an_admin_creates_a_user_who_can_then_log_in(api: LiveApi):
    api.add_user("ada", "admin")
    admin = api.login("ada")
    body = {"username": "olga", "password": PASSWORD, "role": "operator"}
    made = admin.post("/api/v1/users", json=body)
    assert made.status_code == 201 and made.json()["role"] == "operator"
    assert "password" not in made.text and "hash" not in made.text
    assert admin.post("/api/v1/users", json=body).status_code == 409
    assert api.login("olga").get("/api/v1/auth/me").json()["username"] == "olga"
    listed = admin.get("/api/v1/users").json()["items"]
    assert [u["username"] for u in listed] == ["ada", "olga"]


def test_a_short_password_or_unknown_role_is_a_clear_422(api: LiveApi):
    api.add_user("ada", "admin")
    admin = api.login("ada")
    short = admin.post(
        "/api/v1/users", json={"username": "x", "password": "short", "role": "operator"}
    )
    role = admin.post("/api/v1/users", json={"username": "x", "password": PASSWORD, "role": "root"})
    assert (short.status_code, role.status_code) == (422, 422)
    assert short.headers["content-type"] == "application/problem+json"
    assert "password" in short.json()["detail"]


def test_a_role_change_applies_at_once_and_is_audited(api: LiveApi):
    api.add_user("ada", "admin")
    olga = api.add_user("olga", "operator")
    session = api.login("olga")
    admin = api.login("ada")
    changed = admin.patch(f"/api/v1/users/{olga}", json={"role": "auditor", "reason": "moved"})
    assert changed.status_code == 200 and changed.json()["role"] == "auditor"
    assert session.get("/api/v1/auth/me").status_code == 401  # sessions end with the change
    event = _last_event(api)
    assert (event.action, event.actor, event.reason) == ("user.update", "user:ada", "moved")


def test_the_last_admin_cannot_be_disabled_or_demoted(api: LiveApi):
    ada = api.add_user("ada", "admin")
    admin = api.login("ada")
    reply = admin.patch(f"/api/v1/users/{ada}", json={"role": "operator"})
    assert reply.status_code == 409
    assert "last active admin" in reply.json()["detail"]


def test_a_user_changes_their_own_password_with_the_current_one(api: LiveApi):
    api.add_user("olga", "operator")
    client = api.login("olga")
    wrong = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 403
    right = client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert right.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401  # log in again
    assert api.login("olga", NEW_PASSWORD).get("/api/v1/auth/me").status_code == 200
    assert "new_password" not in str(_last_event(api).details)


def test_a_watchlist_change_is_audited_with_before_and_after_and_reloads_matchers(api: LiveApi):
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    body = {"name": "wanted", "purpose": "missing_person", "legal_basis": "s.1", "owner": "sam"}
    wl = client.post("/api/v1/watchlists", json=body).json()
    assert wl["threshold"] is None and wl["effective_threshold"] == 0.363
    with api.ctx.db.session(readonly=True) as s:
        before = repository.gallery_version(s)
    changed = client.patch(f"/api/v1/watchlists/{wl['id']}", json={"threshold": 0.5, "reason": "x"})
    assert changed.status_code == 200 and changed.json()["effective_threshold"] == 0.5
    event = _last_event(api)
    assert event.action == "watchlist.update" and '"threshold":[null,0.5]' in event.details
    with api.ctx.db.session(readonly=True) as s:
        assert repository.gallery_version(s) > before


def test_deleting_a_watchlist_needs_a_reason_and_removes_it(api: LiveApi):
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    body = {"name": "old", "purpose": "other", "legal_basis": "s.1", "owner": "sam"}
    wl = client.post("/api/v1/watchlists", json=body).json()
    assert client.delete(f"/api/v1/watchlists/{wl['id']}").status_code == 422
    gone = client.delete(f"/api/v1/watchlists/{wl['id']}", params={"reason": "expired"})
    assert gone.status_code == 204
    missing = client.get(f"/api/v1/watchlists/{wl['id']}")
    assert (
        missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    )
    assert _last_event(api).action == "watchlist.delete"


def test_a_bad_watchlist_is_refused_with_the_field_named(api: LiveApi):
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    body = {"name": "x", "purpose": "curiosity", "legal_basis": "s.1", "owner": "sam"}
    reply = client.post("/api/v1/watchlists", json=body)
    assert reply.status_code == 422
    assert "purpose" in reply.json()["detail"]
