"""Schemathesis against the served OpenAPI schema, as an operator and as an admin.

Every operation of ``/api/v1/openapi.json`` gets generated requests (valid and invalid,
fixed seed, a bounded number per operation) sent to a real server on a real database with
one watchlist, one enrolled person and one camera, so that small ids hit real rows. Each
request is sent with an operator's key and then an admin's. Checks: no 5xx, and every
documented answer matches its schema. Afterwards the audit chain still verifies.

Left out, each for a reason that is not "it failed": the calls that would lock the fuzzer
out (its keys revoked, its users changed or disabled, its password changed, its session
ended), the camera test, which opens network connections for seconds per call, and the live
event stream, which never ends and needs the live service (503 without it). Each is tested
on its own in tests/integration.

``WATCHKEEPER_FUZZ_EXAMPLES`` raises the number of examples per operation for a longer run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from support.live_api import LiveApi, serve
from watchkeeper.api.app import create_app
from watchkeeper.config import load_settings
from watchkeeper.context import AppContext
from watchkeeper.policy import audit
from watchkeeper.usecases import cameras as registry
from watchkeeper.vision import FaceAnalyzer

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = int(os.environ.get("WATCHKEEPER_FUZZ_EXAMPLES", "6"))
REPO = Path(__file__).resolve().parents[2]
FACE = REPO / "examples" / "data" / "deepface-pairs" / "img1.jpg"


@dataclass
class Fuzzed:
    live: LiveApi
    keys: dict[str, str]  # role → bearer token


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, analyzer: FaceAnalyzer) -> Iterator[Fuzzed]:
    data = tmp_path_factory.mktemp("fuzz") / "data"
    ctx = AppContext(load_settings(data_dir=data, api={"cookie_secure": False}), actor="test")
    ctx.__dict__["analyzer"] = analyzer  # the session's models, loaded once
    app = create_app(ctx)
    server, thread, url = serve(app)
    live = LiveApi(url, app, ctx)
    for username, role in (("ada", "admin"), ("olga", "operator"), ("sue", "supervisor")):
        live.add_user(username, role)
    _seed(live)
    keys = {"operator": live.api_key("olga", None), "admin": live.api_key("ada", None)}
    yield Fuzzed(live, keys)
    server.should_exit = True
    thread.join(10)
    ctx.close()


def _seed(live: LiveApi) -> None:
    """One row of the main kinds, so that id 1 exists and paths reach real objects."""
    sue = live.login("sue")
    body = {"name": "missing", "purpose": "missing_person", "legal_basis": "s.1", "owner": "sue"}
    assert sue.post("/api/v1/watchlists", json=body).status_code == 201
    enrolled = sue.post(
        "/api/v1/watchlists/1/persons",
        data={"name": "Seed", "reason": "fuzzing"},
        files=[("photos", (FACE.name, FACE.read_bytes(), "image/jpeg"))],
    )
    assert enrolled.status_code == 201, enrolled.text
    registry.add_camera(
        live.ctx.db, "test", {"name": "gate", "uri": "rtsp://127.0.0.1:9/none", "enabled": False}
    )


LOCKOUTS = {
    ("DELETE", "/api/v1/apikeys/{key_id}"),
    ("PATCH", "/api/v1/users/{user_id}"),
    ("POST", "/api/v1/users/me/password"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/cameras/test"),
    ("GET", "/api/v1/events"),
}


def _operations(fuzzed: Fuzzed) -> list[APIOperation]:
    """Every operation of the served schema but the lock-outs."""
    served = schemathesis.openapi.from_url(f"{fuzzed.live.url}/api/v1/openapi.json")
    operations = [result.ok() for result in served.get_all_operations()]
    kept = [op for op in operations if (op.method.upper(), op.path) not in LOCKOUTS]
    assert len(operations) - len(kept) == len(LOCKOUTS)  # a renamed path must not slip in
    return kept


def test_no_operation_answers_5xx_or_off_schema(fuzzed: Fuzzed):
    failures: list[str] = []
    operations = _operations(fuzzed)
    assert len(operations) > 50
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,  # a fixed seed: the same requests on every run
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            for role in ("operator", "admin"):
                response = case.call(
                    base_url=fuzzed.live.url,
                    headers={"Authorization": f"Bearer {fuzzed.keys[role]}"},
                    timeout=30,
                )
                case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    assert failures == [], "\n\n".join(failures)


def test_the_audit_chain_verifies_after_fuzzing(fuzzed: Fuzzed):
    with fuzzed.live.ctx.db.session(readonly=True) as s:
        report = audit.verify(s)
    assert report.ok, report.problem
    assert report.head_seq > 10  # the fuzzing was recorded
