"""Authorised deployments: a watchlist may be matched on a camera group only within one.

Each deployment names the list, the camera group, the period, who authorised it and the
reference of the authorisation (a warrant, a decision number), so the record of where and
when faces were compared against which list can be published. Creating and revoking one are
audited in the same transaction and bump the policy version, which running recognisers watch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.policy import audit
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.policy import Deployment


def authorise(
    s: Session,
    watchlist: str | int,
    camera_group: str,
    starts_at: datetime,
    ends_at: datetime,
    authorised_by: str,
    authorisation_ref: str,
    actor: str,
) -> Deployment:
    wl = repository.get_watchlist(s, watchlist)
    row = policy_store.add_deployment(
        s, wl, camera_group, starts_at, ends_at, authorised_by, authorisation_ref, actor
    )
    audit.record(
        s,
        actor=actor,
        action="deployment.add",
        object_type="deployment",
        object_id=row.id,
        reason=authorisation_ref,
        details={
            "watchlist": wl.name,
            "camera_group": row.camera_group,
            "starts_at": starts_at.astimezone(UTC).isoformat(),
            "ends_at": ends_at.astimezone(UTC).isoformat(),
            "authorised_by": row.authorised_by,
        },
    )
    return row


def revoke(s: Session, deployment_id: int, actor: str, reason: str) -> Deployment:
    if not reason.strip():
        raise ValueError("revoking a deployment needs a reason")
    row = policy_store.revoke_deployment(
        s, policy_store.get_deployment(s, deployment_id), datetime.now(UTC)
    )
    audit.record(
        s,
        actor=actor,
        action="deployment.revoke",
        object_type="deployment",
        object_id=row.id,
        reason=reason,
    )
    return row


def status(row: Deployment, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if now < row.starts_at:
        return "scheduled"
    return "active" if now < row.ends_at else "ended"


def describe(s: Session, row: Deployment, now: datetime | None = None) -> dict[str, Any]:
    """A deployment as the CLI and the API show it."""
    now = now or datetime.now(UTC)
    wl = repository.get_watchlist(s, row.watchlist_id)
    return {
        "id": row.id,
        "watchlist": wl.name,
        "watchlist_id": wl.id,
        "camera_group": row.camera_group,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "authorised_by": row.authorised_by,
        "authorisation_ref": row.authorisation_ref,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "status": status(row, now),
    }
