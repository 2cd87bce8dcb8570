"""The tables of accountability, and their queries.

- ``deployments``: which watchlist may be matched on which camera group, from when to when,
  on whose authorisation. Outside one, nothing is matched (``policy.require_authorisation``).
- ``camera_group_policies``: per camera group, whether unmatched sightings are archived and
  for how many days (off unless set).
- ``approvals``: four-eyes requests (enrolling a wanted person, an export) and their decision.
- ``archived_sightings`` / ``sighting_templates``: the expiry and the templates of sightings
  kept by archive mode; the sighting row itself is an ordinary ``sightings`` row without match.
- ``activity_counts``: per camera and hour, frames, faces and sightings analysed and matches
  blocked by policy, as numbers only: what the transparency report is made of, and nothing
  that could identify a passer-by.

Policy changes bump ``policy_version`` (in ``meta``) so that running recognisers reload the
rules without rebuilding their gallery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    cast,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.store.models import Base, Camera, Meta, Person, Sighting, Watchlist, utcnow

POLICY_VERSION = "policy_version"
BLOCK_REASONS = ("expired", "not_authorised", "review_overdue", "pending_approval")
APPROVAL_KINDS = ("enrol_wanted", "export")


class Deployment(Base):
    """An authorisation to match one watchlist on one camera group for a period."""

    __tablename__ = "deployments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="period"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), index=True
    )
    camera_group: Mapped[str] = mapped_column(String(100), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    authorised_by: Mapped[str] = mapped_column(String(200))
    authorisation_ref: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class CameraGroupPolicy(Base):
    """Retention of one camera group: ``archive_days`` empty or 0 keeps no unmatched data."""

    __tablename__ = "camera_group_policies"

    group: Mapped[str] = mapped_column(String(100), primary_key=True)
    archive_days: Mapped[int | None]
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Approval(Base):
    """A request that a second person must approve before it takes effect."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in APPROVAL_KINDS)})", name="kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(200), index=True)
    details: Mapped[str | None] = mapped_column(Text)  # JSON: what exactly is asked for
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    rejected_by: Mapped[str | None] = mapped_column(String(200))
    rejected_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    used_at: Mapped[datetime | None]  # an approved export is performed once

    @property
    def state(self) -> str:
        if self.approved_at is not None:
            return "approved"
        if self.rejected_at is not None:
            return "rejected"
        return "pending"


class ArchivedSighting(Base):
    """An unmatched sighting kept by archive mode, until ``expires_at``."""

    __tablename__ = "archived_sightings"

    sighting_id: Mapped[int] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True
    )
    camera_group: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SightingTemplate(Base):
    """A template of an archived sighting (possibly encrypted, like enrolled templates)."""

    __tablename__ = "sighting_templates"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    sighting_id: Mapped[int] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(100), index=True)
    dimension: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class ActivityCount(Base):
    """What one camera did in one hour, in numbers only."""

    __tablename__ = "activity_counts"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(200), primary_key=True)
    frames: Mapped[int] = mapped_column(default=0)
    faces: Mapped[int] = mapped_column(default=0)
    sightings: Mapped[int] = mapped_column(default=0)
    blocked_expired: Mapped[int] = mapped_column(default=0)
    blocked_not_authorised: Mapped[int] = mapped_column(default=0)
    blocked_review_overdue: Mapped[int] = mapped_column(default=0)
    blocked_pending_approval: Mapped[int] = mapped_column(default=0)


COUNTED = ("frames", "faces", "sightings", *(f"blocked_{r}" for r in BLOCK_REASONS))


# --- the policy version ----------------------------------------------------------------------


def policy_version(s: Session) -> int:
    return int(s.scalar(select(Meta.value).where(Meta.key == POLICY_VERSION)) or 0)


def bump_policy_version(s: Session) -> int:
    """Tell running recognisers that a rule changed (in SQL: safe against other writers)."""
    s.execute(
        update(Meta)
        .where(Meta.key == POLICY_VERSION)
        .values(value=cast(cast(Meta.value, Integer) + 1, Text))
    )
    return policy_version(s)


# --- deployments -----------------------------------------------------------------------------


def add_deployment(
    s: Session,
    watchlist: Watchlist,
    camera_group: str,
    starts_at: datetime,
    ends_at: datetime,
    authorised_by: str,
    authorisation_ref: str,
    created_by: str,
) -> Deployment:
    if ends_at <= starts_at:
        raise StoreError(f"a deployment must end after it starts ({starts_at} → {ends_at})")
    if not camera_group.strip():
        raise StoreError("a deployment needs a camera group")
    if not authorised_by.strip() or not authorisation_ref.strip():
        raise StoreError("a deployment needs who authorised it and the authorisation reference")
    row = Deployment(
        watchlist_id=watchlist.id,
        camera_group=camera_group.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        authorised_by=authorised_by.strip(),
        authorisation_ref=authorisation_ref.strip(),
        created_by=created_by,
    )
    s.add(row)
    s.flush()
    bump_policy_version(s)
    return row


def get_deployment(s: Session, deployment_id: int) -> Deployment:
    row = s.get(Deployment, deployment_id)
    if row is None:
        raise NotFound(f"deployment {deployment_id} does not exist")
    return row


def list_deployments(
    s: Session,
    watchlist: Watchlist | None = None,
    camera_group: str | None = None,
) -> list[Deployment]:
    query = select(Deployment).order_by(Deployment.id)
    if watchlist is not None:
        query = query.where(Deployment.watchlist_id == watchlist.id)
    if camera_group is not None:
        query = query.where(Deployment.camera_group == camera_group)
    return list(s.scalars(query))


def revoke_deployment(s: Session, deployment: Deployment, at: datetime) -> Deployment:
    if deployment.revoked_at is not None:
        raise StoreError(
            f"deployment {deployment.id} was already revoked at {deployment.revoked_at}"
        )
    deployment.revoked_at = at
    s.flush()
    bump_policy_version(s)
    return deployment


# --- camera groups ---------------------------------------------------------------------------


def camera_groups(s: Session) -> dict[str, str]:
    """Camera name → group, for every camera in the store."""
    return {name: group for name, group in s.execute(select(Camera.name, Camera.group))}


def set_archive_days(s: Session, group: str, days: int | None, actor: str) -> CameraGroupPolicy:
    if days is not None and days < 0:
        raise StoreError("archive days cannot be negative")
    row = s.get(CameraGroupPolicy, group)
    if row is None:
        row = CameraGroupPolicy(group=group, archive_days=days, updated_by=actor)
        s.add(row)
    else:
        row.archive_days, row.updated_by, row.updated_at = days, actor, utcnow()
    s.flush()
    bump_policy_version(s)
    return row


def archive_days(s: Session) -> dict[str, int]:
    """Camera group → days, for the groups whose archive mode is on."""
    rows = s.execute(select(CameraGroupPolicy.group, CameraGroupPolicy.archive_days))
    return {group: days for group, days in rows if days}


def list_group_policies(s: Session) -> list[CameraGroupPolicy]:
    return list(s.scalars(select(CameraGroupPolicy).order_by(CameraGroupPolicy.group)))


# --- approvals -------------------------------------------------------------------------------


def add_approval(
    s: Session,
    kind: str,
    object_type: str,
    object_id: str,
    requested_by: str,
    reason: str | None = None,
    details: str | None = None,
) -> Approval:
    if kind not in APPROVAL_KINDS:
        raise StoreError(f"approval kind {kind!r} is not one of: {', '.join(APPROVAL_KINDS)}")
    row = Approval(
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        requested_by=requested_by,
        reason=reason,
        details=details,
    )
    s.add(row)
    s.flush()
    return row


def get_approval(s: Session, approval_id: int) -> Approval:
    row = s.get(Approval, approval_id)
    if row is None:
        raise NotFound(f"approval {approval_id} does not exist")
    return row


def list_approvals(s: Session, state: str | None = None, kind: str | None = None) -> list[Approval]:
    query = select(Approval).order_by(Approval.id)
    if kind is not None:
        query = query.where(Approval.kind == kind)
    if state == "pending":
        query = query.where(Approval.approved_at.is_(None), Approval.rejected_at.is_(None))
    elif state == "approved":
        query = query.where(Approval.approved_at.is_not(None))
    elif state == "rejected":
        query = query.where(Approval.rejected_at.is_not(None))
    elif state is not None:
        raise StoreError(f"approval state {state!r} is not pending, approved or rejected")
    return list(s.scalars(query))


def unapproved_persons(s: Session) -> set[int]:
    """Persons whose enrolment still awaits (or was refused) a second person's approval."""
    query = select(Approval.object_id).where(
        Approval.kind == "enrol_wanted", Approval.approved_at.is_(None)
    )
    return {int(v) for v in s.scalars(query)}


def person_expiries(s: Session) -> list[tuple[int, datetime]]:
    """(person id, expiry) of every person enrolled until a date: two columns, not whole rows,
    as the rules are read again at every gallery change (a million templates: 200,000 rows)."""
    query = select(Person.id, Person.expires_at).where(Person.expires_at.is_not(None))
    return [(int(person), expires) for person, expires in s.execute(query)]


# --- archived sightings ----------------------------------------------------------------------


def archive_sighting(
    s: Session,
    sighting_row: Sighting,
    camera_group: str,
    expires_at: datetime,
    model: str,
    vectors: Iterable[bytes],
    dimension: int,
) -> ArchivedSighting:
    row = ArchivedSighting(
        sighting_id=sighting_row.id, camera_group=camera_group, expires_at=expires_at
    )
    s.add(row)
    for vector in vectors:
        s.add(
            SightingTemplate(
                sighting_id=sighting_row.id, model=model, dimension=dimension, vector=vector
            )
        )
    s.flush()
    return row


def expired_archive(s: Session, now: datetime) -> list[tuple[int, str | None]]:
    """(sighting id, crop sha) of archived sightings past their expiry."""
    query = (
        select(Sighting.id, Sighting.crop_sha256)
        .join(ArchivedSighting, ArchivedSighting.sighting_id == Sighting.id)
        .where(ArchivedSighting.expires_at <= now)
    )
    return [(int(i), sha) for i, sha in s.execute(query)]


def delete_sightings(s: Session, sighting_ids: list[int]) -> None:
    if sighting_ids:
        s.execute(delete(Sighting).where(Sighting.id.in_(sighting_ids)))


def archived_templates(s: Session, model: str) -> list[tuple[int, int, bytes]]:
    """(template id, sighting id, vector bytes) of the archive's unexpired templates of ``model``.

    The retrospective search of investigations reads these; vectors may be encrypted (decrypt
    with the media store's cipher).
    """
    query = (
        select(SightingTemplate.id, SightingTemplate.sighting_id, SightingTemplate.vector)
        .join(ArchivedSighting, ArchivedSighting.sighting_id == SightingTemplate.sighting_id)
        .where(SightingTemplate.model == model, ArchivedSighting.expires_at > utcnow())
        .order_by(SightingTemplate.id)
    )
    return [(int(a), int(b), bytes(c)) for a, b, c in s.execute(query)]


# --- activity counters -----------------------------------------------------------------------


def add_counts(s: Session, hour: datetime, camera: str, deltas: Mapping[str, int]) -> None:
    """Add ``deltas`` (names from :data:`COUNTED`) to one camera's hour, creating the row."""
    unknown = set(deltas) - set(COUNTED)
    if unknown:
        raise StoreError(f"unknown activity counters: {', '.join(sorted(unknown))}")
    row = s.get(ActivityCount, (hour, camera))
    if row is None:
        row = ActivityCount(hour=hour, camera=camera, **{name: 0 for name in COUNTED})
        s.add(row)
    for name, value in deltas.items():
        setattr(row, name, getattr(row, name) + int(value))
    s.flush()


def activity(s: Session, start: datetime, end: datetime) -> list[ActivityCount]:
    query = (
        select(ActivityCount)
        .where(ActivityCount.hour >= start, ActivityCount.hour < end)
        .order_by(ActivityCount.hour, ActivityCount.camera)
    )
    return list(s.scalars(query))


@dataclass(frozen=True, slots=True)
class DeploymentWindow:
    """A deployment as the policy snapshot needs it: plain values, no session."""

    id: int
    watchlist_id: int
    camera_group: str
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None


def deployment_windows(s: Session) -> list[DeploymentWindow]:
    rows = s.execute(
        select(
            Deployment.id,
            Deployment.watchlist_id,
            Deployment.camera_group,
            Deployment.starts_at,
            Deployment.ends_at,
            Deployment.revoked_at,
        )
    )
    return [DeploymentWindow(*tuple(row)) for row in rows]


def deployments_overlapping(s: Session, start: datetime, end: datetime) -> list[Deployment]:
    """Deployments active at some moment in ``[start, end)`` (revocation ends them)."""
    query = (
        select(Deployment)
        .where(
            Deployment.starts_at < end,
            Deployment.ends_at > start,
            or_(Deployment.revoked_at.is_(None), Deployment.revoked_at > start),
        )
        .order_by(Deployment.id)
    )
    return list(s.scalars(query))
