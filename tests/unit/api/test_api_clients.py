"""The client's address and the requesting site, from real ASGI requests."""

from types import SimpleNamespace

import pytest
from fastapi import Request

from watchkeeper.api.clients import client_address, foreign_origin, networks


def request(peer: str, trusted: list[str] | None = None, **headers: str) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(trusted_proxies=networks(trusted or [])))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 5000),
        "app": app,
    }
    return Request(scope)


def test_forwarded_for_counts_only_from_trusted_proxies_and_only_its_rightmost_stranger():
    assert client_address(request("203.0.113.9", x_forwarded_for="10.0.0.1")) == "203.0.113.9"
    chain = "1.2.3.4, 198.51.100.7, 10.0.0.5"  # the client wrote the first, proxies the rest
    via_proxy = request("10.0.0.2", ["10.0.0.0/8"], x_forwarded_for=chain)
    assert client_address(via_proxy) == "198.51.100.7"
    garbage = request("10.0.0.2", ["10.0.0.0/8"], x_forwarded_for="not-an-address")
    assert client_address(garbage) == "10.0.0.2"


@pytest.mark.parametrize(
    ("host", "origin", "foreign"),
    [
        ("wk.example", "https://wk.example", False),
        ("wk.example:443", "https://wk.example", False),
        ("wk.example:8080", "http://wk.example:8080", False),
        ("[::1]:8080", "http://[::1]:8080", False),
        ("wk.example", "https://wk.example.evil", True),
        ("wk.example:8080", "http://wk.example:8081", True),
        ("wk.example", "null", True),
        ("wk.example", "https://wk.example:bad", True),
    ],
)
def test_the_origin_must_name_this_host_and_port(host: str, origin: str, foreign: bool):
    assert (foreign_origin(request("1.2.3.4", host=host, origin=origin)) is not None) is foreign


def test_referer_stands_in_for_a_missing_origin_and_neither_means_a_machine():
    assert foreign_origin(request("1.2.3.4", host="wk", referer="http://evil/x")) is not None
    assert foreign_origin(request("1.2.3.4", host="wk", referer="http://wk/login")) is None
    assert foreign_origin(request("1.2.3.4", host="wk")) is None


def test_a_trusted_proxy_may_name_the_public_host():
    behind = request(
        "10.0.0.2", ["10.0.0.0/8"], host="127.0.0.1:8080", x_forwarded_host="wk.example",
        origin="https://wk.example",
    )  # fmt: skip
    assert foreign_origin(behind) is None
    forged = request("1.2.3.4", host="wk.example", x_forwarded_host="evil", origin="http://evil")
    assert foreign_origin(forged) is not None
