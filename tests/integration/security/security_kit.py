"""Helpers of the security regression tests: clients, the audit log, an alert with a crop."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from support.live_api import LiveApi
from watchkeeper.alerts import AlertService, CameraRef
from watchkeeper.context import AppContext
from watchkeeper.domain import Match, Sighting
from watchkeeper.store import repository
from watchkeeper.store.models import AuditEvent

PROXY = {"api": {"trusted_proxies": ["127.0.0.0/8"]}}
ATTACKER, VICTIM = "203.0.113.9", "198.51.100.7"


def login_status(api: LiveApi, username: str, password: str, client: str | None = None) -> int:
    """The status of one login attempt, as ``client`` behind a proxy when given."""
    headers = {"X-Forwarded-For": client} if client else {}
    with api.client() as c:
        reply = c.post(
            "/api/v1/auth/login", json={"username": username, "password": password}, headers=headers
        )
    return reply.status_code


def bearer(api: LiveApi, token: str, **headers: str) -> httpx.Client:
    """A machine client: the API key in the Authorization header, no cookies."""
    return api.client(headers={"Authorization": f"Bearer {token}", **headers})


def audit_events(api: LiveApi, action: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, actor, details) of every audit event, oldest first, or of one action."""
    with api.ctx.db.session(readonly=True) as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        events = [(e.action, e.actor, json.loads(e.details) if e.details else {}) for e in rows]
    return [e for e in events if action is None or e[0] == action]


def raise_alert(ctx: AppContext, camera: str = "gate", confirmations: int = 1) -> int:
    """An alert with a face crop on ``camera`` for a new person on list "wanted"."""
    with ctx.db.session() as s:
        found = [wl for wl, _ in repository.list_watchlists(s) if wl.name == "wanted"]
        wl = found[0] if found else repository.create_watchlist(
            s, "wanted", "wanted_person", "warrant", "unit", confirmations_required=confirmations
        )  # fmt: skip
        person_id, watchlist_id = repository.add_person(s, wl, "Ann", None, None, "t").id, wl.id
    sighting = Sighting(
        camera, 1, 1.8e9, 1.8e9 + 1, 0, 5, 5, 2, np.zeros(4, np.float32),
        np.full((40, 40, 3), 128, np.uint8), 0.9, np.ones((1, 128), np.float32) / np.sqrt(128),
        "m",
    )  # fmt: skip
    match = Match(camera, 1, person_id, watchlist_id, 0.7, 0.363, 0, "m")
    service = AlertService(ctx.db, ctx.media, ctx.settings.notifications)
    recorded = service.record(CameraRef(camera, f"rtsp://{camera}/x"), [(sighting, [match])])
    return recorded[0].alert_id
