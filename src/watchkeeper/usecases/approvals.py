"""Deciding four-eyes requests: an approval (wanted-person enrolment, export) or a case.

The rules themselves live in ``policy.approvals`` and ``investigations.cases`` (a supervisor,
not the requester; the requester may withdraw). What every door used to repeat around them is
here once: who the deciding actor is (a browser or API-key session brings its role; a command
line login is looked up among the Watchkeeper users), the transaction, and the media freed by
a refused enrolment, deleted only after the commit.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.investigations import cases
from watchkeeper.policy import approvals
from watchkeeper.policy.approvals import APPROVER_ROLE, ApprovalForbidden, identity
from watchkeeper.store import Database, MediaStore
from watchkeeper.store import auth as auth_store
from watchkeeper.store import investigations as case_store
from watchkeeper.store import policy as policy_store


def actor_role(db: Database, actor: str, deciding: str) -> str:
    """The role of the active Watchkeeper user behind ``actor`` (e.g. an OS login).

    Refuses (``ApprovalForbidden``) when there is none, saying how to make one: a command
    line login decides only as a Watchkeeper user, never by the account it runs under.
    """
    name = identity(actor)
    with db.session(readonly=True) as s:
        user = auth_store.find_user(s, name)
        role = user.role if user is not None and user.active else None
    if role is None:
        raise ApprovalForbidden(
            f"{name} is not an active Watchkeeper user: deciding {deciding} needs one with the "
            f"{APPROVER_ROLE} role (watchkeeper user create {name} --role {APPROVER_ROLE})"
        )
    return role


def approve_request(
    db: Database, actor: str, approval_id: int, comment: str | None, role: str | None = None
) -> dict[str, Any]:
    """Approve a pending request; ``role`` None: looked up for ``actor`` (the command line)."""
    role = role or actor_role(db, actor, "approvals")
    with db.session() as s:
        return approvals.describe(approvals.approve(s, approval_id, actor, role, comment))


def reject_request(
    db: Database,
    media: MediaStore,
    actor: str,
    approval_id: int,
    reason: str,
    role: str | None = None,
) -> dict[str, Any]:
    """Refuse a request (or withdraw one's own); a refused enrolment is deleted with its media."""
    if role is None:
        with db.session(readonly=True) as s:
            requester = policy_store.get_approval(s, approval_id).requested_by
        own = identity(requester) == identity(actor)
        role = "requester" if own else actor_role(db, actor, "approvals")
    with db.session() as s:
        freed = approvals.reject(s, approval_id, actor, role, reason)
        result = approvals.describe(policy_store.get_approval(s, approval_id))
    for sha in freed:
        media.delete(sha)
    return result


def approve_case(
    db: Database, actor: str, case: int | str, comment: str | None, role: str | None = None
) -> dict[str, Any]:
    """Approve a pending case; ``role`` None: looked up for ``actor`` (the command line)."""
    role = role or actor_role(db, actor, "cases")
    with db.session() as s:
        return cases.describe(cases.approve_case(s, case, actor, role, comment))


def refuse_case(
    db: Database, actor: str, case: int | str, reason: str, role: str | None = None
) -> dict[str, Any]:
    """Refuse a pending case (a supervisor), or withdraw one's own."""
    if role is None:
        with db.session(readonly=True) as s:
            requester = case_store.get_case(s, case).requested_by
        own = identity(requester) == identity(actor)
        role = "requester" if own else actor_role(db, actor, "cases")
    with db.session() as s:
        return cases.describe(cases.refuse_case(s, case, actor, role, reason))
