"""Every endpoint checks a permission: proven by walking all routes of the real app."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from support.live_api import LiveApi
from watchkeeper.api.auth import permission_of
from watchkeeper.policy.roles import ROLES

PUBLIC = {("GET", "/api/v1/openapi.json"), ("POST", "/api/v1/auth/login")}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _api_routes(api: LiveApi) -> list[tuple[str, str, list[str]]]:
    """(method, path template, permissions declared) of every /api/v1 endpoint."""
    routes = []
    for route in iter_route_contexts(api.app.routes):
        if not str(route.path).startswith("/api/v1"):
            continue
        dependant = getattr(route, "dependant", None)
        permissions = (
            [p for d in _dependants(dependant) if (p := permission_of(d.call))]
            if dependant is not None
            else []
        )
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                routes.append((method, str(route.path), permissions))
    return routes


def _url(api: LiveApi, path: str) -> str:
    return api.url + re.sub(r"\{[^}]+\}", "1", path)


def test_every_api_route_but_login_declares_exactly_one_permission(api: LiveApi):
    routes = _api_routes(api)
    assert len(routes) > 20
    undeclared = [(m, p) for m, p, perms in routes if len(perms) != 1 and (m, p) not in PUBLIC]
    assert undeclared == []
    assert {(m, p) for m, p, perms in routes if not perms} == PUBLIC


def test_every_protected_route_refuses_an_anonymous_call_with_401(api: LiveApi):
    refused = {}
    for method, path, _ in _api_routes(api):
        if (method, path) in PUBLIC:
            continue
        refused[(method, path)] = httpx.request(method, _url(api, path), timeout=30).status_code
    assert set(refused.values()) == {401}, refused


def test_an_auditor_is_refused_every_route_outside_the_auditor_role(api: LiveApi):
    api.add_user("audrey", "auditor")
    client = api.login("audrey")  # sends the CSRF token: a 403 here is about the role
    refused, write_routes = {}, 0
    for method, path, perms in _api_routes(api):
        if (method, path) in PUBLIC or perms[0] in ROLES["auditor"]:
            continue
        write_routes += method != "GET"
        reply = client.request(method, _url(api, path))
        refused[(method, path)] = (reply.status_code, reply.json().get("detail", ""))
    assert write_routes >= 5
    assert {status for status, _ in refused.values()} == {403}, refused
    assert all("lacks permission" in detail for _, detail in refused.values())


def test_health_and_readiness_need_no_login_and_tell_nothing_more(api: LiveApi):
    health = httpx.get(f"{api.url}/healthz")
    ready = httpx.get(f"{api.url}/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_metrics_are_served_to_the_allow_listed_address_only(start_api):
    local = start_api()
    deadline = time.monotonic() + 10
    while httpx.get(f"{local.url}/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    reply = httpx.get(f"{local.url}/metrics")
    assert reply.status_code == 200
    assert "watchkeeper_http_requests_total" in reply.text
    # once the face models are loaded, what runs them is named
    assert re.search(
        r'watchkeeper_inference_runtime_info\{runtime="(openvino|onnxruntime) ', reply.text
    )
    elsewhere = start_api(metrics_allow=["10.0.0.0/8"])
    assert httpx.get(f"{elsewhere.url}/metrics").status_code == 403


def test_the_openapi_document_is_served_and_the_cdn_docs_page_only_on_request(
    api: LiveApi, start_api
):
    spec = httpx.get(f"{api.url}/api/v1/openapi.json").json()
    assert "/api/v1/watchlists/{watchlist_id}/persons" in spec["paths"]
    assert httpx.get(f"{api.url}/docs").status_code == 404  # no CDN script by default
    assert httpx.get(f"{start_api(docs=True).url}/docs").status_code == 200
