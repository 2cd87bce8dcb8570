"""Alerts, the sightings folded into them, and the reviews that decide them.

An alert is what an operator acts on: one person seen on one camera, possibly many times
within the deduplication window (each extra sighting is linked, ``count`` and ``last_seen``
move on). Its face crop is the crop of its best-scoring sighting, so no file is referenced
twice and nothing outlives the sighting it came from. Every review is a row of its own, so
the two-person rule can be proved from the table (who confirmed, when) and not from a counter.

Deleting a person (or their list) deletes their alerts by ``ON DELETE CASCADE``, as it does
their matches: an alert must never outlive the entry that justified it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from watchkeeper.store.errors import NotFound
from watchkeeper.store.models import Base, Camera, Match, Person, Sighting, Watchlist, utcnow

ALERT_STATES = ("new", "confirmed", "rejected", "escalated")
DECISIONS = ("confirm", "reject", "escalate")


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in ALERT_STATES)})", name="state"),
        Index("ix_alerts_camera_id_person_id_last_seen", "camera_id", "person_id", "last_seen"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), index=True
    )
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id", ondelete="CASCADE"))
    photo_id: Mapped[int | None]  # the enrolled photo behind the best template; no FK: re-enrolment
    score: Mapped[float]
    threshold: Mapped[float]
    state: Mapped[str] = mapped_column(String(16), default="new", index=True)
    confirmations_required: Mapped[int]
    count: Mapped[int] = mapped_column(default=1)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertSighting(Base):
    """A sighting folded into an alert (the first one too)."""

    __tablename__ = "alert_sightings"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    sighting_id: Mapped[int] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    match_id: Mapped[int]
    score: Mapped[float]


class AlertReview(Base):
    __tablename__ = "alert_reviews"
    __table_args__ = (
        CheckConstraint(f"decision IN ({', '.join(repr(d) for d in DECISIONS)})", name="decision"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None]  # no FK: reviews outlive a disabled or deleted account
    reviewer: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- queries ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert with the names an operator reads and the crop it shows."""

    alert: Alert
    camera: str
    camera_group: str
    person: str
    watchlist: str
    crop_sha256: str | None
    reviews: list[AlertReview]


@dataclass(frozen=True, slots=True)
class AlertFilter:
    state: str | None = None
    camera_id: int | None = None
    watchlist_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def find_foldable(s: Session, camera_id: int, person_id: int, since: datetime) -> Alert | None:
    """The newest alert of this person on this camera last seen at or after ``since``."""
    return s.scalar(
        select(Alert)
        .where(Alert.camera_id == camera_id, Alert.person_id == person_id, Alert.last_seen >= since)
        .order_by(Alert.last_seen.desc())
        .limit(1)
    )


def link_sighting(s: Session, alert: Alert, sighting_id: int, match_id: int, score: float) -> None:
    s.add(AlertSighting(alert_id=alert.id, sighting_id=sighting_id, match_id=match_id, score=score))
    s.flush()


def get_alert(s: Session, alert_id: int) -> Alert:
    alert = s.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def _view_query():  # type: ignore[no-untyped-def]
    return (
        select(Alert, Camera.name, Camera.group, Person.name, Watchlist.name, Sighting.crop_sha256)
        .join(Camera, Alert.camera_id == Camera.id)
        .join(Person, Alert.person_id == Person.id)
        .join(Watchlist, Alert.watchlist_id == Watchlist.id)
        .join(Sighting, Alert.sighting_id == Sighting.id)
    )


def view_alert(s: Session, alert_id: int) -> AlertView:
    row = s.execute(_view_query().where(Alert.id == alert_id)).first()
    if row is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return AlertView(*tuple(row), reviews=reviews_of(s, alert_id))


def list_alerts(
    s: Session, where: AlertFilter, before_id: int | None = None, limit: int = 50
) -> list[AlertView]:
    """Newest first; ``before_id`` is the keyset cursor (the last id of the previous page)."""
    query = _view_query().order_by(Alert.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    if where.state is not None:
        query = query.where(Alert.state == where.state)
    if where.camera_id is not None:
        query = query.where(Alert.camera_id == where.camera_id)
    if where.watchlist_id is not None:
        query = query.where(Alert.watchlist_id == where.watchlist_id)
    if where.since is not None:
        query = query.where(Alert.last_seen >= where.since)
    if where.until is not None:
        query = query.where(Alert.first_seen < where.until)
    rows = s.execute(query).all()
    reviews = _reviews_by_alert(s, [row[0].id for row in rows])
    return [AlertView(*tuple(row), reviews=reviews.get(row[0].id, [])) for row in rows]


def reviews_of(s: Session, alert_id: int) -> list[AlertReview]:
    return _reviews_by_alert(s, [alert_id]).get(alert_id, [])


def _reviews_by_alert(s: Session, alert_ids: list[int]) -> dict[int, list[AlertReview]]:
    if not alert_ids:
        return {}
    found: dict[int, list[AlertReview]] = {}
    query = select(AlertReview).where(AlertReview.alert_id.in_(alert_ids)).order_by(AlertReview.id)
    for review in s.scalars(query):
        found.setdefault(review.alert_id, []).append(review)
    return found


def add_review(
    s: Session, alert: Alert, user_id: int | None, reviewer: str, decision: str, comment: str | None
) -> AlertReview:
    review = AlertReview(
        alert_id=alert.id, user_id=user_id, reviewer=reviewer, decision=decision, comment=comment
    )
    s.add(review)
    s.flush()
    return review


def alert_sightings(s: Session, alert_id: int) -> list[AlertSighting]:
    query = select(AlertSighting).where(AlertSighting.alert_id == alert_id)
    return list(s.scalars(query.order_by(AlertSighting.sighting_id)))


def count_alerts(s: Session, camera_id: int | None = None) -> int:
    query = select(func.count(Alert.id))
    if camera_id is not None:
        query = query.where(Alert.camera_id == camera_id)
    return int(s.scalar(query) or 0)


@dataclass(frozen=True, slots=True)
class SightingView:
    """A stored (hence matched) sighting with its camera and matches."""

    sighting: Sighting
    camera: str
    matches: list[tuple[Match, str, str]]  # (match, person name, watchlist name)


def page_sightings(
    s: Session,
    camera_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[SightingView]:
    """Newest first; only matched sightings exist in the store."""
    query = (
        select(Sighting, Camera.name)
        .join(Camera, Sighting.camera_id == Camera.id)
        .order_by(Sighting.id.desc())
        .limit(limit)
    )
    if camera_id is not None:
        query = query.where(Sighting.camera_id == camera_id)
    if since is not None:
        query = query.where(Sighting.ended_at >= since)
    if until is not None:
        query = query.where(Sighting.started_at < until)
    if before_id is not None:
        query = query.where(Sighting.id < before_id)
    rows = s.execute(query).all()
    matches: dict[int, list[tuple[Match, str, str]]] = {}
    if rows:
        found = s.execute(
            select(Match, Person.name, Watchlist.name)
            .join(Person, Match.person_id == Person.id)
            .join(Watchlist, Match.watchlist_id == Watchlist.id)
            .where(Match.sighting_id.in_([row[0].id for row in rows]))
            .order_by(Match.score.desc())
        )
        for match, person, watchlist in found:
            matches.setdefault(match.sighting_id, []).append((match, person, watchlist))
    return [SightingView(row[0], row[1], matches.get(row[0].id, [])) for row in rows]


def state_counts(s: Session, start: datetime, end: datetime) -> dict[str, int] | None:
    """Alerts raised in ``[start, end)`` by their current state; None when an installation
    (an old database being reported on) has no alerts table."""
    if not inspect(s.get_bind()).has_table(Alert.__tablename__):
        return None
    rows = s.execute(
        select(Alert.state, func.count())
        .where(Alert.created_at >= start, Alert.created_at < end)
        .group_by(Alert.state)
    )
    return {state: int(n) for state, n in rows}
