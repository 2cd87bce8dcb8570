"""Watchlist review: a list past its review date stops matching until someone reviews it.

Purpose-bound lists go stale: people are found, cases close. A review date forces a person
to look at the list again and say, on the record, why it should go on; the review sets the
next date and is audited with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from watchkeeper.policy import audit
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.models import Watchlist


class ReviewError(ValueError):
    """A review cannot be recorded as given; the message says why."""


def review_watchlist(
    s: Session, watchlist: str | int, next_review: datetime, reason: str, actor: str
) -> Watchlist:
    """Record a review of the list and its next review date (which must lie ahead)."""
    if not reason.strip():
        raise ReviewError("a review needs a reason: why should the list go on?")
    if next_review <= datetime.now(UTC):
        raise ReviewError(f"the next review date {next_review:%Y-%m-%d} must be in the future")
    wl = repository.get_watchlist(s, watchlist)
    previous = wl.review_by
    wl.review_by = next_review
    s.flush()
    policy_store.bump_policy_version(s)
    audit.record(
        s,
        actor=actor,
        action="watchlist.review",
        object_type="watchlist",
        object_id=wl.id,
        reason=reason,
        details={
            "name": wl.name,
            "previous_review_by": previous.isoformat() if previous else None,
            "next_review_by": next_review.astimezone(UTC).isoformat(),
        },
    )
    return wl
