"""Finding 12: a form on another site could log a browser in (login CSRF).

Login and every unsafe request that carries the session cookie must come from a page of
this site: an ``Origin`` (or, without one, a ``Referer``) of another site is refused.
"""

from __future__ import annotations

from security_kit import audit_events, bearer

from support.live_api import PASSWORD, LiveApi

EVIL = "http://evil.example"


def test_finding_12_a_login_posted_from_another_site_is_refused(api: LiveApi):
    api.add_user("olga", "operator")
    form = {"username": "olga", "password": PASSWORD}
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Referer": f"{EVIL}/login.html"}):
        with api.client() as browser:
            reply = browser.post("/api/v1/auth/login", data=form, headers=headers)
            assert reply.status_code == 403, headers
            assert "wk_session" not in browser.cookies
    assert audit_events(api, "auth.login") == []


def test_finding_12_unsafe_requests_with_cookies_from_another_site_are_refused(api: LiveApi):
    api.add_user("olga", "operator")
    session = api.login("olga")  # carries the right CSRF token: the Origin is the second lock
    made = session.post("/api/v1/apikeys", json={"name": "x"}, headers={"Origin": EVIL})
    assert made.status_code == 403 and "another site" in made.json()["detail"]
    assert session.post("/api/v1/auth/logout", headers={"Referer": EVIL + "/"}).status_code == 403
    assert session.get("/api/v1/auth/me", headers={"Origin": EVIL}).status_code == 200  # reads


def test_finding_12_this_site_and_machine_clients_still_work(api: LiveApi):
    api.add_user("olga", "operator")
    with api.client() as browser:
        same = {"Origin": api.url, "Referer": api.url + "/login"}
        reply = browser.post(
            "/api/v1/auth/login", json={"username": "olga", "password": PASSWORD}, headers=same
        )
        assert reply.status_code == 200
        browser.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
        assert browser.post("/api/v1/apikeys", json={"name": "x"}, headers=same).status_code == 201
    token = api.api_key("olga", None)
    with bearer(api, token, Origin=EVIL) as machine:  # no cookie: nothing for a site to abuse
        assert machine.post("/api/v1/apikeys", json={"name": "y"}).status_code == 201
