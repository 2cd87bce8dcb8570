"""Four-eyes approval: some actions take effect only when a second person agrees.

- ``enrol_wanted``: a person added to a wanted-person list is stored at once but does not
  match (the eligibility rule *pending_approval*) until a supervisor other than the one who
  enrolled them approves. Rejecting the request deletes the entry with its photos.
- ``export``: an export of the audit log (or of evidence) is performed only under an
  approved request, once, by the person who asked for it.

"Another person" is judged by the user behind an actor, not the channel: ``user:alice``
(browser), ``user:alice (api key 7)`` and ``cli:alice`` are all alice, so nobody approves
their own request by switching from the console to the command line.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.policy import audit
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.models import Person
from watchkeeper.store.policy import Approval

APPROVER_ROLE = "supervisor"
_ACTOR = re.compile(r"^(?:user|cli):(?P<name>.+?)(?: \(api key \d+\))?$")


class ApprovalError(ValueError):
    """An approval cannot be given, refused or used in its state; the message says why."""


class ApprovalForbidden(ApprovalError):
    """This actor may not decide or use this approval (own request, role, someone else's)."""


def identity(actor: str) -> str:
    """The person behind an audit actor string (see the module docstring)."""
    found = _ACTOR.match(actor)
    return found.group("name") if found else actor


def request(
    s: Session,
    kind: str,
    object_type: str,
    object_id: str | int,
    actor: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Approval:
    """Open a request (audited); it waits for a supervisor who is not ``actor``."""
    row = policy_store.add_approval(
        s,
        kind,
        object_type,
        str(object_id),
        requested_by=actor,
        reason=reason,
        details=None if details is None else json.dumps(details, sort_keys=True),
    )
    audit.record(
        s,
        actor=actor,
        action="approval.request",
        object_type="approval",
        object_id=row.id,
        reason=reason,
        details={"kind": kind, "object_type": object_type, "object_id": str(object_id)}
        | ({"request": details} if details else {}),
    )
    if kind == "enrol_wanted":
        policy_store.bump_policy_version(s)
    return row


def request_enrolment(s: Session, person: Person, actor: str, reason: str | None) -> Approval:
    """Hold a new wanted-person entry until a second person approves it."""
    return request(
        s,
        "enrol_wanted",
        "person",
        person.id,
        actor,
        reason=reason,
        details={"watchlist": person.watchlist.name, "name": person.name},
    )


def approve(
    s: Session, approval_id: int, actor: str, role: str, comment: str | None = None
) -> Approval:
    """Approve as ``actor`` holding ``role``: a supervisor who did not make the request."""
    row = _decidable(s, approval_id, actor, role, "approve")
    if identity(actor) == identity(row.requested_by):
        raise ApprovalForbidden(
            f"{identity(actor)} requested approval {row.id} and cannot approve it: "
            "a second supervisor must"
        )
    row.approved_by, row.approved_at, row.decision_reason = actor, datetime.now(UTC), comment
    s.flush()
    audit.record(
        s,
        actor=actor,
        action="approval.approve",
        object_type="approval",
        object_id=row.id,
        reason=comment,
        details={"kind": row.kind, "object_type": row.object_type, "object_id": row.object_id},
    )
    if row.kind == "enrol_wanted":
        policy_store.bump_policy_version(s)
    return row


def reject(s: Session, approval_id: int, actor: str, role: str, reason: str) -> list[str]:
    """Refuse a request (a supervisor; the requester may withdraw their own).

    A refused enrolment is deleted with its photos and templates; the media shas that are
    no longer referenced are returned, for the caller to delete after the commit.
    """
    if not reason.strip():
        raise ApprovalError("a rejection needs a reason")
    row = _decidable(s, approval_id, actor, role, "reject")
    row.rejected_by, row.rejected_at, row.decision_reason = actor, datetime.now(UTC), reason
    s.flush()
    freed: list[str] = []
    details: dict[str, Any] = {
        "kind": row.kind,
        "object_type": row.object_type,
        "object_id": row.object_id,
    }
    if row.kind == "enrol_wanted":
        person = s.get(Person, int(row.object_id))
        if person is not None:
            freed = repository.delete_person(s, person)
            details["deleted_person"] = int(row.object_id)
        policy_store.bump_policy_version(s)
    audit.record(
        s,
        actor=actor,
        action="approval.reject",
        object_type="approval",
        object_id=row.id,
        reason=reason,
        details=details,
    )
    return freed


def use_export(s: Session, approval_id: int, actor: str, object_type: str) -> Approval:
    """Spend the export approval ``approval_id`` for ``actor``, in the caller's transaction.

    The export must be of ``object_type``, approved, not used before, and performed by the
    person who asked for it; the caller writes the export and its ``export.perform`` audit
    event in the same transaction, so a failed export leaves the approval unused.
    """
    row = policy_store.get_approval(s, approval_id)
    if row.kind != "export" or row.object_type != object_type:
        raise ApprovalError(
            f"approval {row.id} is for {row.kind} of {row.object_type}, not an export of "
            f"{object_type}"
        )
    if row.state != "approved":
        raise ApprovalError(
            f"export approval {row.id} is {row.state}: a supervisor must approve it"
        )
    if identity(actor) != identity(row.requested_by):
        raise ApprovalForbidden(
            f"export approval {row.id} was given to {identity(row.requested_by)}, not to "
            f"{identity(actor)}"
        )
    if row.used_at is not None:
        raise ApprovalError(f"export approval {row.id} was already used at {row.used_at}")
    row.used_at = datetime.now(UTC)
    s.flush()
    return row


def _decidable(s: Session, approval_id: int, actor: str, role: str, verb: str) -> Approval:
    row = policy_store.get_approval(s, approval_id)
    if row.state != "pending":
        raise ApprovalError(f"approval {row.id} is already {row.state}")
    withdrawing = verb == "reject" and identity(actor) == identity(row.requested_by)
    if role != APPROVER_ROLE and not withdrawing:
        raise ApprovalForbidden(
            f"to {verb} a request needs the {APPROVER_ROLE} role; {identity(actor)} is {role}"
        )
    return row


def describe(row: Approval) -> dict[str, Any]:
    """The request as plain JSON values (API, CLI)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "details": json.loads(row.details) if row.details else None,
        "reason": row.reason,
        "state": row.state,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat(),
        "approved_by": row.approved_by,
        "approved_at": row.approved_at.isoformat() if row.approved_at else None,
        "rejected_by": row.rejected_by,
        "rejected_at": row.rejected_at.isoformat() if row.rejected_at else None,
        "decision_reason": row.decision_reason,
        "used_at": row.used_at.isoformat() if row.used_at else None,
    }
