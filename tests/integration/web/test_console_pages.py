"""The console's pages over real HTTP: who is sent to log in, who is refused, what is served.

The browser tests (tests/e2e) drive the same pages in Chromium; these check the server's
side of the bargain quickly and without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from support.live_api import LiveApi, serve
from watchkeeper.api.app import create_app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.policy.roles import ROLES
from watchkeeper.web import PAGES


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("pages") / "data", api={"cookie_secure": False}
    )
    ctx = AppContext(settings, actor="test")
    app = create_app(ctx, load_models=False)
    server, thread, url = serve(app)
    live = LiveApi(url, app, ctx)
    for role in ROLES:
        live.add_user(f"{role}-user", role)
    yield live
    server.should_exit = True
    thread.join(10)
    ctx.close()


def nav(html: str) -> list[str]:
    menu = re.search(r'<nav aria-label="Console">(.*?)</nav>', html, re.S)
    return re.findall(r'<a href="(/[a-z]+)"', menu.group(1)) if menu else []


@pytest.mark.parametrize("path", [*(p.path for p in PAGES), "/"])
def test_an_anonymous_visitor_is_sent_to_log_in_and_back(api: LiveApi, path: str):
    reply = httpx.get(api.url + path)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_only_the_pages_it_may_use_and_is_refused_the_others(api, role):
    client = api.login(f"{role}-user")
    allowed = [p.path for p in PAGES if p.permission in ROLES[role]]
    for page in PAGES:
        reply = client.get(page.path)
        if page.path in allowed:
            assert reply.status_code == 200, page.path
            assert nav(reply.text) == allowed
            assert f'src="/static/{page.script}' in reply.text
        else:
            assert reply.status_code == 403, page.path
            assert "Not allowed" in reply.text and page.permission in reply.text
            assert page.script not in reply.text
    home = client.get("/")
    assert home.status_code == 303 and home.headers["location"] == allowed[0]


def test_an_operator_has_no_admin_link_and_the_admin_pages_answer_403(api):
    client = api.login("operator-user")
    page = client.get("/alerts").text
    assert "/users" not in nav(page) and "/audit" not in nav(page)
    assert client.get("/users").status_code == 403
    assert client.get("/api/v1/users").status_code == 403


def test_pages_forbid_inline_script_and_framing(api):
    reply = api.login("supervisor-user").get("/persons")
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert reply.headers["cache-control"] == "no-store"
    assert "<script>" not in reply.text and " style=" not in reply.text


def test_the_login_page_only_returns_to_pages_of_this_site(api):
    for target, kept in [
        ("/history?state=new", "/history?state=new"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        page = httpx.get(f"{api.url}/login", params={"next": target}).text
        assert f'data-next="{kept}"' in page.replace("&amp;", "&"), target


def test_markup_in_the_return_address_is_escaped_in_the_login_page(api):
    page = httpx.get(f"{api.url}/login", params={"next": '/x"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in page
    assert 'data-next="/x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_every_page_script_and_the_stylesheet_are_served_from_the_package(api):
    names = {p.script for p in PAGES} | {"console.js", "login.js", "console.css"}
    for name in names:
        reply = httpx.get(f"{api.url}/static/{name}")
        assert reply.status_code == 200, name
        assert reply.headers["content-type"].startswith(
            "text/css" if name.endswith(".css") else "text/javascript"
        )
    assert httpx.get(f"{api.url}/static/../app.py").status_code == 404
