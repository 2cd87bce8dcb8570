"""Who may be matched where and when: the rules a recogniser applies to every candidate.

An enrolled person on a watchlist is a candidate for a sighting only if

1. the entry has not expired (``persons.expires_at``) — *expired*;
2. its enrolment is not awaiting a second person's approval (wanted-person lists) —
   *pending_approval*;
3. the watchlist is not past its review date (``watchlists.review_by``) — *review_overdue*;
4. the watchlist has an authorised deployment (``deployments``) for the camera's group that
   covers the sighting's time, unless ``policy.require_authorisation`` is off —
   *not_authorised*.

Expiry and review are judged at the later of the sighting's time and now, so footage
analysed after an entry expired no longer matches it; the deployment at the sighting's time,
since an authorisation is for a place and a period (a revoked deployment authorises nothing).

:class:`PolicySnapshot` holds these rules as plain values, loaded once per policy change, so
that judging a candidate costs a few dictionary look-ups and no database query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository
from watchkeeper.store.policy import DeploymentWindow

DEFAULT_GROUP = "default"


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """The matching rules at one policy version (see the module docstring)."""

    require_authorisation: bool
    version: int = 0
    expiry: Mapping[int, datetime] = field(default_factory=dict)  # person → expires_at
    unapproved: frozenset[int] = frozenset()  # persons awaiting (or refused) approval
    review_by: Mapping[int, datetime] = field(default_factory=dict)  # watchlist → review date
    watchlist_names: Mapping[int, str] = field(default_factory=dict)
    deployments: Mapping[int, tuple[DeploymentWindow, ...]] = field(default_factory=dict)
    camera_groups: Mapping[str, str] = field(default_factory=dict)  # camera name → group
    archive_days: Mapping[str, int] = field(default_factory=dict)  # group → days, when on

    def group_of(self, camera: str) -> str:
        return self.camera_groups.get(camera, DEFAULT_GROUP)

    def person_block(self, person_id: int, moment: datetime) -> str | None:
        if person_id in self.unapproved:
            return "pending_approval"
        expires = self.expiry.get(person_id)
        if expires is not None and expires <= moment:
            return "expired"
        return None

    def review_block(self, watchlist_id: int, moment: datetime) -> str | None:
        """``review_overdue`` once the list's review date has passed, whatever the camera."""
        review = self.review_by.get(watchlist_id)
        return "review_overdue" if review is not None and review <= moment else None

    def watchlist_block(
        self, watchlist_id: int, group: str, at: datetime, moment: datetime
    ) -> str | None:
        if reason := self.review_block(watchlist_id, moment):
            return reason
        if self.require_authorisation and self.covering(watchlist_id, group, at) is None:
            return "not_authorised"
        return None

    def covering(self, watchlist_id: int, group: str, at: datetime) -> DeploymentWindow | None:
        """The deployment that authorises this list on this group at ``at``, if any."""
        for deployment in self.deployments.get(watchlist_id, ()):
            if (
                deployment.revoked_at is None
                and deployment.camera_group == group
                and deployment.starts_at <= at < deployment.ends_at
            ):
                return deployment
        return None

    def block(
        self, person_id: int, watchlist_id: int, group: str, at: datetime, now: datetime
    ) -> str | None:
        """Why this entry may not be matched here and then (None: it may)."""
        moment = max(at, now)
        return self.person_block(person_id, moment) or self.watchlist_block(
            watchlist_id, group, at, moment
        )

    def blocked_sets(
        self, group: str, at: datetime, now: datetime
    ) -> tuple[dict[int, str], dict[int, str]]:
        """(person → reason, watchlist → reason) of everything blocked here and then."""
        moment = max(at, now)
        persons = {p: "pending_approval" for p in self.unapproved}
        for person, expires in self.expiry.items():
            if person not in persons and expires <= moment:
                persons[person] = "expired"
        watchlists = {}
        for watchlist in self.watchlist_names:
            reason = self.watchlist_block(watchlist, group, at, moment)
            if reason is not None:
                watchlists[watchlist] = reason
        return persons, watchlists


def load_snapshot(s: Session, require_authorisation: bool) -> PolicySnapshot:
    """Read the rules from the store (one consistent read, in the caller's session)."""
    windows: dict[int, list[DeploymentWindow]] = {}
    for window in policy_store.deployment_windows(s):
        windows.setdefault(window.watchlist_id, []).append(window)
    watchlists = repository.watchlists(s)
    return PolicySnapshot(
        require_authorisation=require_authorisation,
        version=policy_store.policy_version(s),
        expiry={person: _aware(expires) for person, expires in policy_store.person_expiries(s)},
        unapproved=frozenset(policy_store.unapproved_persons(s)),
        review_by={wl.id: _aware(wl.review_by) for wl in watchlists if wl.review_by is not None},
        watchlist_names={wl.id: wl.name for wl in watchlists},
        deployments={k: tuple(v) for k, v in windows.items()},
        camera_groups=policy_store.camera_groups(s),
        archive_days=policy_store.archive_days(s),
    )


def explain(
    snapshot: PolicySnapshot,
    watchlist_id: int,
    group: str,
    at: datetime,
    now: datetime | None = None,
) -> str:
    """One sentence for an operator: may this list be matched on this group at this time?"""
    now = now or datetime.now(UTC)
    name = snapshot.watchlist_names.get(watchlist_id, str(watchlist_id))
    when = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    moment = max(at, now)
    reason = snapshot.watchlist_block(watchlist_id, group, at, moment)
    if reason == "review_overdue":
        review = snapshot.review_by[watchlist_id].strftime("%Y-%m-%d")
        return (
            f"watchlist {name} is not matched: its review was due on {review} "
            f"(watchkeeper watchlist review {name} --next-review DATE --reason TEXT)"
        )
    if reason == "not_authorised":
        return f"watchlist {name} has no authorisation for camera group {group} at {when}"
    deployment = snapshot.covering(watchlist_id, group, at)
    if deployment is None:
        return (
            f"watchlist {name} may be matched on camera group {group} at {when} "
            "(no authorisation is required)"
        )
    return (
        f"watchlist {name} may be matched on camera group {group} at {when} "
        f"under deployment {deployment.id} (until "
        f"{deployment.ends_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')})"
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
