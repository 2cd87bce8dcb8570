"""Logging in and out, sessions, CSRF, API keys and the login rate limit, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from support.live_api import PASSWORD, LiveApi
from watchkeeper.policy import audit
from watchkeeper.store.auth import LoginSession
from watchkeeper.store.models import AuditEvent


def _audit_actions(api: LiveApi) -> list[tuple[str, str, str | None]]:
    with api.ctx.db.session(readonly=True) as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        return [(e.action, e.actor, e.details) for e in events]


def _chain_ok(api: LiveApi) -> bool:
    with api.ctx.db.session(readonly=True) as s:
        return audit.verify(s).ok


def test_login_sets_hardened_cookies_and_me_answers_who_is_calling(api: LiveApi):
    api.add_user("olga", "operator")
    with api.client() as client:
        reply = client.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
        assert reply.status_code == 200
        assert reply.json()["role"] == "operator"
        cookies = {c.split("=", 1)[0]: c.lower() for c in reply.headers.get_list("set-cookie")}
        assert "httponly" in cookies["wk_session"] and "samesite=strict" in cookies["wk_session"]
        assert "httponly" not in cookies["wk_csrf"]  # the page's script must read it
        assert reply.json()["csrf_token"] == client.cookies["wk_csrf"]
        me = client.get("/api/v1/auth/me").json()
    assert me["username"] == "olga" and me["via"] == "session"
    assert "alerts:review" in me["permissions"] and "users:admin" not in me["permissions"]


def test_cookies_are_secure_unless_the_setting_turns_it_off(start_api):
    api = start_api(cookie_secure=True)
    api.add_user("olga", "operator")
    with api.client() as client:
        reply = client.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
    assert all("secure" in c.lower() for c in reply.headers.get_list("set-cookie"))


def test_login_accepts_an_html_form(api: LiveApi):
    api.add_user("olga", "operator")
    with api.client() as client:
        reply = client.post("/api/v1/auth/login", data={"username": "olga", "password": PASSWORD})
    assert reply.status_code == 200


def test_logout_ends_the_session_and_is_audited(api: LiveApi):
    api.add_user("olga", "operator")
    client = api.login("olga")
    assert client.post("/api/v1/auth/logout").status_code == 204
    client.cookies.set("wk_session", client.cookies.get("wk_session") or "gone")
    assert client.get("/api/v1/auth/me").status_code == 401
    actions = [a for a, _, _ in _audit_actions(api)]
    assert actions[-2:] == ["auth.login", "auth.logout"]
    assert _chain_ok(api)


def test_a_wrong_password_is_refused_audited_without_the_password(api: LiveApi):
    api.add_user("olga", "operator")
    with api.client() as client:
        reply = client.post(
            "/api/v1/auth/login", json={"username": "olga", "password": "not-her-password-1"}
        )
    assert reply.status_code == 401
    assert reply.headers["content-type"] == "application/problem+json"
    failed = [e for e in _audit_actions(api) if e[0] == "auth.login.failed"]
    assert len(failed) == 1
    assert "not-her-password-1" not in str(_audit_actions(api))
    with api.ctx.db.session(readonly=True) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login.failed")).one()
    # what was typed, named as such: not the account "user <id>" a successful login names
    assert (event.object_type, event.object_id) == ("username", "olga")


def test_repeated_failures_are_rate_limited_with_retry_after(start_api):
    api = start_api(login_max_failures=3, login_window_seconds=60)
    api.add_user("olga", "operator")
    with api.client() as client:
        wrong = {"username": "olga", "password": "wrong-password-123"}
        statuses = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(3)]
        limited = client.post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
    assert statuses == [401, 401, 401]
    assert limited.status_code == 429  # even the right password waits, from this client
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert [a for a, _, _ in _audit_actions(api)][-1] == "auth.login.limited"


def test_the_limit_per_address_stops_guessing_across_usernames(start_api):
    api = start_api(login_max_failures=3, login_window_seconds=60)
    with api.client() as client:
        for name in ("a1", "a2", "a3"):
            client.post("/api/v1/auth/login", json={"username": name, "password": "x" * 12})
        reply = client.post("/api/v1/auth/login", json={"username": "a4", "password": "x" * 12})
    assert reply.status_code == 429


def test_an_idle_session_expires(api: LiveApi):
    api.add_user("olga", "operator")
    client = api.login("olga")
    with api.ctx.db.session() as s:
        for row in s.scalars(select(LoginSession)):
            row.last_seen_at = datetime.now(UTC) - timedelta(minutes=31)
    reply = client.get("/api/v1/auth/me")
    assert reply.status_code == 401
    assert "expired" in reply.json()["detail"]
    api.login("olga")  # a new login sweeps the ended session away
    with api.ctx.db.session(readonly=True) as s:
        assert len(list(s.scalars(select(LoginSession)))) == 1


def test_a_session_expires_at_its_absolute_end_however_active(api: LiveApi):
    api.add_user("olga", "operator")
    client = api.login("olga")
    with api.ctx.db.session() as s:
        for row in s.scalars(select(LoginSession)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_change_without_the_csrf_token_is_forbidden_and_with_it_allowed(api: LiveApi):
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    body = {"name": "missing", "purpose": "missing_person", "legal_basis": "s.1", "owner": "sam"}
    token = client.headers.pop("X-CSRF-Token")
    missing = client.post("/api/v1/watchlists", json=body)
    forged = client.post("/api/v1/watchlists", json=body, headers={"X-CSRF-Token": "forged"})
    good = client.post("/api/v1/watchlists", json=body, headers={"X-CSRF-Token": token})
    assert (missing.status_code, forged.status_code, good.status_code) == (403, 403, 201)
    assert "X-CSRF-Token" in missing.json()["detail"]


def test_an_api_key_can_do_exactly_what_its_scopes_allow(api: LiveApi):
    api.add_user("sam", "supervisor")
    token = api.api_key("sam", ["watchlists:read"])
    with api.client(headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/api/v1/watchlists").status_code == 200
        body = {"name": "x", "purpose": "other", "legal_basis": "s.1", "owner": "sam"}
        assert client.post("/api/v1/watchlists", json=body).status_code == 403  # no CSRF needed
        assert client.get("/api/v1/persons").status_code == 403
        assert client.get("/api/v1/auth/me").status_code == 403  # not even account:self


def test_an_api_key_needs_no_csrf_token_for_changes(api: LiveApi):
    api.add_user("sam", "supervisor")
    token = api.api_key("sam", ["watchlists:write"])
    body = {"name": "x", "purpose": "other", "legal_basis": "s.1", "owner": "sam"}
    with api.client(headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.post("/api/v1/watchlists", json=body).status_code == 201


def test_a_revoked_or_made_up_api_key_is_refused(api: LiveApi):
    api.add_user("ada", "admin")
    token = api.api_key("ada", None)
    admin = api.login("ada")
    key_id = admin.get("/api/v1/apikeys").json()["items"][0]["id"]
    assert admin.delete(f"/api/v1/apikeys/{key_id}").status_code == 204
    for bad in (token, token[:-2] + "xx", "wk_nothing_here", "not-a-key"):
        reply = httpx.get(f"{api.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert reply.status_code == 401, bad
        assert reply.headers["www-authenticate"].startswith("Bearer")


def test_an_api_key_made_over_the_api_is_shown_once_and_works(api: LiveApi):
    api.add_user("olga", "operator")
    client = api.login("olga")
    made = client.post("/api/v1/apikeys", json={"name": "vms", "scopes": ["alerts:read"]})
    assert made.status_code == 201
    token = made.json()["token"]
    listed = client.get("/api/v1/apikeys").json()["items"]
    assert "token" not in listed[0] and listed[0]["scopes"] == ["alerts:read"]
    beyond = client.post("/api/v1/apikeys", json={"name": "x", "scopes": ["users:admin"]})
    assert beyond.status_code == 403
    me = httpx.get(f"{api.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 403  # alerts:read only: it may not even read its own account


def test_a_disabled_user_loses_sessions_and_keys(api: LiveApi):
    api.add_user("ada", "admin")
    olga = api.add_user("olga", "operator")
    token = api.api_key("olga", None)
    session = api.login("olga")
    admin = api.login("ada")
    assert admin.patch(f"/api/v1/users/{olga}", json={"active": False}).status_code == 200
    assert session.get("/api/v1/auth/me").status_code == 401
    key = httpx.get(f"{api.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert key.status_code == 401
    again = api.client().post("/api/v1/auth/login", json={"username": "olga", "password": PASSWORD})
    assert again.status_code == 401
