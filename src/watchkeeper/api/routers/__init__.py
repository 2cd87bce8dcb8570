"""Every resource router mounted under ``/api/v1``; adding one is one line here.

Each module defines ``router = APIRouter(prefix="/<resource>", tags=[...])`` whose every
endpoint depends on ``watchkeeper.api.auth.require(<permission>)`` (a test checks this).
"""

from fastapi import APIRouter

from watchkeeper.api.routers import (
    alerts,
    apikeys,
    approvals,
    audit_log,
    auth,
    cameras,
    cases,
    crowd,
    deployments,
    events,
    notifications,
    persons,
    photo_check,
    policy,
    users,
    watchlists,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    users.router,
    apikeys.router,
    watchlists.router,
    persons.router,
    photo_check.router,
    deployments.router,
    approvals.router,
    policy.router,
    cameras.router,
    crowd.router,
    alerts.router,
    events.router,
    notifications.router,
    audit_log.router,
    cases.router,
]
