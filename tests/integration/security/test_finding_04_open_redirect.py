"""Finding 4: ``/login?next=/%09/evil.example/x`` sent the browser off-site after login."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from support.live_api import LiveApi
from watchkeeper.web.console import _safe_next

OFF_SITE = [
    "/\t/evil.example/x",  # browsers drop tabs and newlines: "//evil.example/x"
    "/\n/evil.example/x",
    "/\r/evil.example/x",
    "\t//evil.example/x",
    " //evil.example/x",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    "//evil.example/x",
    "///evil.example/x",
    "/\\evil.example/x",
    "\\/evil.example/x",
    "/\\\\evil.example",
    "https://evil.example/",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    "evil.example/x",
    "/\u2028/evil.example/x",  # a Unicode line separator
    "",
]
ON_SITE = ["/", "/history?state=new", "/alerts#7", "/persons?q=%2F%2Fx", "/%2F/evil.example"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_finding_04_safe_next_refuses_every_off_site_target(target: str):
    assert _safe_next(target) == "/"


@pytest.mark.parametrize("target", ON_SITE)
def test_finding_04_safe_next_keeps_paths_of_this_site(target: str):
    assert _safe_next(target) == target


def test_finding_04_the_login_page_never_links_off_site(api: LiveApi):
    # The raw query of the report, percent-encoded the way an attacker's link carries it.
    for query in ("next=/%09/evil.example/x", "next=/%0a/evil.example", "next=%5C%5Cevil.example"):
        page = httpx.get(f"{api.url}/login?{query}").text
        [target] = re.findall(r'data-next="([^"]*)"', page)
        assert html.unescape(target) == "/", query
