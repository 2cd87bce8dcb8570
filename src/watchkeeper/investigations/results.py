"""What a case found: candidates ranked by score, a timeline per camera, and their review.

A candidate is a track (or an archived sighting) whose fused score against the subject's
probes reached the case's threshold. Nothing is decided by the score alone: an investigator
reviews each one as *is the person* or *is not*; rejected candidates leave the timeline but
stay, with their scores, for the threshold statistics (``investigations.thresholds``).
Every look at the results is audited by the caller with :func:`record_view`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.investigations.errors import InvestigationError
from watchkeeper.policy import audit
from watchkeeper.store import investigations as store
from watchkeeper.store.investigations import REVIEWS, CaseCandidate


def candidate_json(candidate: CaseCandidate, rank: int) -> dict[str, Any]:
    return {
        "rank": rank,
        "id": candidate.id,
        "kind": candidate.kind,
        "camera": candidate.camera,
        "source_id": candidate.source_id,
        "sighting_id": candidate.sighting_id,
        "track": candidate.track_id,
        "first_frame": candidate.first_frame,
        "best_frame": candidate.best_frame,
        "last_frame": candidate.last_frame,
        "detections": candidate.detections,
        "started_at": candidate.started_at.astimezone(UTC).isoformat(),
        "ended_at": candidate.ended_at.astimezone(UTC).isoformat(),
        "score": round(candidate.score, 4),
        "threshold": candidate.threshold,
        "probe_id": candidate.probe_id,
        "model": candidate.model,
        "quality": round(candidate.quality, 3),
        "crop_sha256": candidate.crop_sha256,
        "review": candidate.review,
        "reviewed_by": candidate.reviewed_by,
    }


def ranked(s: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's candidates, best first, as plain values."""
    return [candidate_json(c, rank) for rank, c in enumerate(store.candidates_of(s, case_id), 1)]


def timeline(candidates: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Where the subject may have been, per camera in time order (rejected ones left out)."""
    cameras: dict[str, list[dict[str, Any]]] = {}
    for c in sorted(candidates, key=lambda c: (c["started_at"], c["rank"])):
        if c["review"] == "is_not":
            continue
        cameras.setdefault(c["camera"], []).append(
            {
                "from": c["started_at"],
                "to": c["ended_at"],
                "candidate": c["id"],
                "frames": [c["first_frame"], c["last_frame"]],
                "score": c["score"],
                "review": c["review"],
            }
        )
    return dict(sorted(cameras.items()))


def record_view(s: Session, case_id: int, actor: str, what: str, **details: Any) -> None:
    """Audit that ``actor`` looked at ``what`` of the case (results, a crop, the details)."""
    audit.record(
        s,
        actor=actor,
        action=f"case.view.{what}",
        object_type="case",
        object_id=case_id,
        details=details or None,
    )


def review_candidate(
    s: Session,
    case_id: int | str,
    candidate_id: int,
    decision: str,
    actor: str,
    comment: str | None = None,
) -> CaseCandidate:
    """Record an investigator's verdict on a candidate (audited; a later one replaces it)."""
    if decision not in REVIEWS:
        raise InvestigationError(f"review {decision!r} is not one of: {', '.join(REVIEWS)}")
    case = store.get_case(s, case_id)
    candidate = store.get_candidate(s, case.id, candidate_id)
    previous = candidate.review
    candidate.review, candidate.reviewed_by = decision, actor
    candidate.reviewed_at = datetime.now(UTC)
    s.flush()
    audit.record(
        s,
        actor=actor,
        action="case.candidate.review",
        object_type="case",
        object_id=case.id,
        reason=comment,
        details={
            "candidate": candidate.id,
            "decision": decision,
            "previous": previous,
            "score": round(candidate.score, 4),
        },
    )
    return candidate
