"""Persons on watchlists: enrol (and say what the entry still waits for), list with state, delete.

Enrolment itself (photos checked, one transaction for person, photos, templates, audit record
and, on a wanted-person list, the four-eyes request) is ``enrolment.enrol_person``; what this
module adds is what every door must tell the person who enrolled: an entry on a
wanted-person list is stored but matches nobody until a supervisor other than them approves
it, and who those supervisors are. ``entry_states`` says of each entry whether it can match
at all, and if not why, in the words of the policy rules (``policy.eligibility``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from watchkeeper.enrolment import EnrolledPerson
from watchkeeper.policy import audit
from watchkeeper.policy.approvals import APPROVER_ROLE, identity
from watchkeeper.policy.eligibility import PolicySnapshot
from watchkeeper.policy.eligibility import load_snapshot as load_policy
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.store import auth as auth_store
from watchkeeper.store.models import Person

ACTIVE = "active"
STATE_WORDS = {
    ACTIVE: "active",
    "pending_approval": "pending approval",
    "expired": "expired",
    "review_overdue": "list review overdue",
}


@dataclass(frozen=True, slots=True)
class AwaitingApproval:
    """A stored entry that matches nobody until a second person approves it."""

    approval_id: int
    approvers: list[str]  # active supervisors other than the one who enrolled

    def sentence(self) -> str:
        """What the enrolling person must know, and how the approval is given."""
        who = (
            "one of: " + ", ".join(self.approvers)
            if self.approvers
            else f"no other active user has the {APPROVER_ROLE} role yet "
            f"(watchkeeper user create NAME --role {APPROVER_ROLE})"
        )
        return (
            f"the entry will not match until a {APPROVER_ROLE} other than you approves "
            f"request {self.approval_id} — {who}; they run "
            f"'watchkeeper approval approve {self.approval_id}' or use Approvals in the console"
        )


def awaiting_approval(
    db: Database, enrolled: EnrolledPerson, actor: str
) -> AwaitingApproval | None:
    """None when the entry matches at once; else its request and who may approve it."""
    if enrolled.approval_id is None:
        return None
    with db.session(readonly=True) as s:
        approvers = [
            u.username
            for u in auth_store.list_users(s)
            if u.active and u.role == APPROVER_ROLE and u.username != identity(actor)
        ]
    return AwaitingApproval(enrolled.approval_id, approvers)


def entry_state(snapshot: PolicySnapshot, person: Person, now: datetime) -> str:
    """``active`` or the rule that keeps this entry from matching anywhere now."""
    return (
        snapshot.person_block(person.id, now)
        or snapshot.review_block(person.watchlist_id, now)
        or ACTIVE
    )


def list_entries(
    db: Database, watchlist: str | int | None, require_authorisation: bool
) -> list[dict[str, Any]]:
    """The entries (of one list, or all) as plain values, each with its state judged now."""
    now = datetime.now(UTC)
    with db.session(readonly=True) as s:
        wl = repository.get_watchlist(s, watchlist) if watchlist is not None else None
        snapshot = load_policy(s, require_authorisation)
        return [
            {
                "id": p.id,
                "name": p.name,
                "watchlist": p.watchlist.name,
                "reason": p.reason,
                "expires_at": p.expires_at,
                "photos": len(p.photos),
                "created_by": p.created_by,
                "state": entry_state(snapshot, p, now),
            }
            for p in repository.list_persons(s, wl)
        ]


def delete_person(db: Database, media: MediaStore, actor: str, person_id: int, reason: str) -> str:
    """Delete an entry with its photos, templates and matches, audited; the person's name."""
    with db.session() as s:
        person = repository.get_person(s, person_id)
        name = person.name
        details = {"name": name, "watchlist": person.watchlist.name}
        freed = repository.delete_person(s, person)
        audit.record(s, actor, "person.delete", "person", person_id, reason=reason, details=details)
    for sha in freed:
        media.delete(sha)
    return name
