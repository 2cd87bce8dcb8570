"""Cases: the only way to search the past, and the rules that make a search lawful.

A case names one purpose (a missing person, a wanted person, a victim to identify), the legal
basis, who asked, the time window and the cameras (by name or group) that may be searched, and
when the authority ends. It is **inert until a supervisor other than the requester approves
it** — the same four-eyes rule as ``policy.approvals`` (same role, same notion of "another
person": ``cli:alice`` and ``user:alice`` are one person). Closing it, or its expiry, stops
every search at once: :func:`check_searchable` is asked at every step of a running scan, not
only at its start.

Every change is audited in the transaction that makes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.investigations.errors import CaseForbidden, CaseRefused, InvestigationError
from watchkeeper.policy import audit
from watchkeeper.policy.approvals import APPROVER_ROLE, identity
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.store import investigations as store
from watchkeeper.store.investigations import CASE_PURPOSES, Case


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """What an investigator asks for when opening a case."""

    reference: str
    purpose: str
    legal_basis: str
    window_start: datetime
    window_end: datetime
    expires_at: datetime
    cameras: Sequence[str] = ()
    camera_groups: Sequence[str] = ()
    threshold: float | None = None  # None: the configured default


def open_case(
    s: Session,
    request: CaseRequest,
    actor: str,
    *,
    default_threshold: float,
    max_days: int,
    now: datetime | None = None,
) -> Case:
    """Record a case, pending approval (audited)."""
    now = now or datetime.now(UTC)
    cameras = sorted({c.strip() for c in request.cameras if c.strip()})
    groups = sorted({g.strip() for g in request.camera_groups if g.strip()})
    if not request.reference.strip():
        raise InvestigationError("a case needs a reference number")
    if request.purpose not in CASE_PURPOSES:
        raise InvestigationError(
            f"purpose {request.purpose!r} is not one of: {', '.join(CASE_PURPOSES)}"
        )
    if not request.legal_basis.strip():
        raise InvestigationError("a case needs its legal basis (the law or warrant it rests on)")
    if request.window_end <= request.window_start:
        raise InvestigationError(
            f"the time window must end after it starts ({request.window_start} → "
            f"{request.window_end})"
        )
    if not cameras and not groups:
        raise InvestigationError("a case needs a camera scope: at least one camera or group")
    if request.expires_at <= now:
        raise InvestigationError(f"the expiry {request.expires_at} is already past")
    if request.expires_at > now + timedelta(days=max_days):
        raise InvestigationError(
            f"a case may run at most {max_days} days (investigations.max_case_days); "
            "open a new case to continue"
        )
    threshold = default_threshold if request.threshold is None else request.threshold
    if not -1 < threshold < 1:
        raise InvestigationError(f"threshold {threshold} must be a cosine between -1 and 1")
    case = store.add_case(
        s,
        Case(
            reference=request.reference.strip(),
            purpose=request.purpose,
            legal_basis=request.legal_basis.strip(),
            requested_by=actor,
            window_start=request.window_start,
            window_end=request.window_end,
            cameras=cameras,
            camera_groups=groups,
            expires_at=request.expires_at,
            threshold=float(threshold),
        ),
    )
    audit.record(
        s,
        actor=actor,
        action="case.open",
        object_type="case",
        object_id=case.id,
        reason=case.legal_basis,
        details=describe(case, now),
    )
    return case


def approve_case(
    s: Session, case_id: int | str, actor: str, role: str, comment: str | None = None
) -> Case:
    """Approve as ``actor`` holding ``role``: a supervisor who did not request the case."""
    case = store.get_case(s, case_id)
    now = datetime.now(UTC)
    _check_decider(case, actor, role, "approve")
    state = case.state(now)
    if state != "pending":
        raise InvestigationError(
            f"case {case.reference} is {state}: only a pending case can be approved"
        )
    case.approved_by, case.approved_at, case.approval_comment = actor, now, comment
    s.flush()
    audit.record(
        s, actor=actor, action="case.approve", object_type="case", object_id=case.id,
        reason=comment, details={"reference": case.reference},
    )  # fmt: skip
    return case


def refuse_case(s: Session, case_id: int | str, actor: str, role: str, reason: str) -> Case:
    """A supervisor refuses a pending case (the requester may withdraw it): it is closed."""
    case = store.get_case(s, case_id)
    own = identity(actor) == identity(case.requested_by)
    if not own:
        _check_decider(case, actor, role, "refuse")
    if case.state(datetime.now(UTC)) != "pending":
        raise InvestigationError(f"case {case.reference} is not pending: close it instead")
    return _close(s, case, actor, reason, "case.refuse")


def close_case(s: Session, case_id: int | str, actor: str, reason: str) -> Case:
    """End the case now: every running and future search under it stops."""
    case = store.get_case(s, case_id)
    if case.closed_at is not None:
        raise InvestigationError(f"case {case.reference} was already closed at {case.closed_at}")
    return _close(s, case, actor, reason, "case.close")


def check_searchable(case: Case, now: datetime | None = None) -> None:
    """Raise :class:`CaseRefused` unless a search under ``case`` is allowed right now."""
    now = now or datetime.now(UTC)
    state = case.state(now)
    if state == "closed":
        raise CaseRefused(
            f"case {case.reference} was closed at {_at(case.closed_at)} by "
            f"{identity(case.closed_by or '?')}: no search is allowed under it"
        )
    if state == "expired":
        raise CaseRefused(
            f"case {case.reference} expired at {_at(case.expires_at)}: no search is allowed "
            "under it; open a new case"
        )
    if state == "pending":
        raise CaseRefused(
            f"case {case.reference} is not approved yet: a supervisor other than "
            f"{identity(case.requested_by)} must approve it before anything is searched"
        )


def in_scope(case: Case, camera: str, group: str | None) -> bool:
    return camera in case.cameras or (group is not None and group in case.camera_groups)


def check_scope(case: Case, camera: str, group: str | None) -> None:
    if not in_scope(case, camera, group):
        where = f"camera {camera}" + (f" (group {group})" if group else "")
        raise CaseRefused(
            f"{where} is outside the camera scope of case {case.reference} ({scope_text(case)})"
        )


def check_window(case: Case, start: datetime, end: datetime) -> None:
    """Raise unless ``[start, end]`` overlaps the case's time window."""
    if end < case.window_start or start >= case.window_end:
        raise CaseRefused(
            f"{_at(start)} – {_at(end)} is outside the time window of case {case.reference} "
            f"({_at(case.window_start)} – {_at(case.window_end)})"
        )


def in_window(case: Case, moment: datetime) -> bool:
    return case.window_start <= moment < case.window_end


def scope_text(case: Case) -> str:
    parts = []
    if case.cameras:
        parts.append("cameras " + ", ".join(case.cameras))
    if case.camera_groups:
        parts.append("groups " + ", ".join(case.camera_groups))
    return "; ".join(parts)


def describe(case: Case, now: datetime | None = None) -> dict[str, Any]:
    """The case as plain JSON values (API, CLI, audit details, evidence)."""
    return {
        "id": case.id,
        "reference": case.reference,
        "purpose": case.purpose,
        "legal_basis": case.legal_basis,
        "state": case.state(now or datetime.now(UTC)),
        "requested_by": case.requested_by,
        "created_at": _iso(case.created_at),
        "window_start": _iso(case.window_start),
        "window_end": _iso(case.window_end),
        "cameras": list(case.cameras),
        "camera_groups": list(case.camera_groups),
        "expires_at": _iso(case.expires_at),
        "threshold": case.threshold,
        "approved_by": case.approved_by,
        "approved_at": _iso(case.approved_at),
        "closed_by": case.closed_by,
        "closed_at": _iso(case.closed_at),
        "close_reason": case.close_reason,
    }


def purge_case(db: Database, media: MediaStore, case_id: int | str, actor: str, reason: str) -> int:
    """Delete a case with its probes, recordings' checkpoints and candidates; return the
    number of media files removed. Refused while the case is active: close it first."""
    with db.session() as s:
        case = store.get_case(s, case_id)
        if case.state(datetime.now(UTC)) in ("pending", "active"):
            raise InvestigationError(
                f"case {case.reference} is still {case.state(datetime.now(UTC))}: close it "
                "before purging it"
            )
        freed = _purge(s, case, actor, reason)
    for sha in freed:
        media.delete(sha)
    return len(freed)


def purge_ended_cases(
    db: Database, media: MediaStore, grace_days: int, actor: str, now: datetime | None = None
) -> int:
    """Purge every case that expired or was closed more than ``grace_days`` ago."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=grace_days)
    freed: list[str] = []
    with db.session() as s:
        ended = store.expired_cases(s, cutoff)
        for case in ended:
            freed += _purge(s, case, actor, f"ended more than {grace_days} days ago")
    for sha in freed:
        media.delete(sha)
    return len(ended)


def _purge(s: Session, case: Case, actor: str, reason: str) -> list[str]:
    details = {"reference": case.reference, "candidates": store.count_candidates(s, case.id)}
    case_id = case.id
    shas = store.delete_case(s, case)
    freed = repository.unreferenced_media(s, shas)
    audit.record(
        s, actor=actor, action="case.purge", object_type="case", object_id=case_id,
        reason=reason, details=details | {"files": len(freed)},
    )  # fmt: skip
    return freed


def _check_decider(case: Case, actor: str, role: str, verb: str) -> None:
    if identity(actor) == identity(case.requested_by):
        raise CaseForbidden(
            f"{identity(actor)} requested case {case.reference} and cannot {verb} it: "
            "a second supervisor must"
        )
    if role != APPROVER_ROLE:
        raise CaseForbidden(
            f"to {verb} a case needs the {APPROVER_ROLE} role; {identity(actor)} is {role}"
        )


def _close(s: Session, case: Case, actor: str, reason: str, action: str) -> Case:
    if not reason.strip():
        raise InvestigationError("closing or refusing a case needs a reason")
    case.closed_by, case.closed_at, case.close_reason = actor, datetime.now(UTC), reason
    s.flush()
    audit.record(
        s, actor=actor, action=action, object_type="case", object_id=case.id, reason=reason,
        details={"reference": case.reference},
    )  # fmt: skip
    return case


def _at(moment: datetime | None) -> str:
    return "?" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()
