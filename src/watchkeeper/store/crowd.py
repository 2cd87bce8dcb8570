"""Crowd counting's tables: zones, per-zone-per-minute counts, and crowd alerts.

These hold numbers only. There is no column for an image, a box or a track: the schema itself
is the promise that counting keeps nothing that could be linked back to a person. A crowd
alert is its own table (not a row of ``alerts``, whose every row names a person and a
sighting); it shares the outbox with face alerts, so delivery is the same at-least-once path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from watchkeeper.store.errors import NotFound
from watchkeeper.store.models import Base, Camera, utcnow

LIMIT_KINDS = ("people", "density", "inflow")
CROWD_ALERT_STATES = ("new", "acknowledged")


class CrowdZone(Base):
    """A counted area of one camera's picture (see :class:`watchkeeper.crowd.zones.Zone`)."""

    __tablename__ = "crowd_zones"
    __table_args__ = (
        UniqueConstraint("camera_id", "name", name="uq_crowd_zones_camera_name"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)  # Zone.to_dict()
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrowdMinute(Base):
    """One zone over one minute: the only thing counting keeps."""

    __tablename__ = "crowd_minutes"
    __table_args__ = (UniqueConstraint("zone_id", "minute", name="uq_crowd_minutes_zone_minute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("crowd_zones.id", ondelete="CASCADE"))
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    minute: Mapped[datetime] = mapped_column(index=True)
    frames: Mapped[int]
    people_mean: Mapped[float]
    people_max: Mapped[float]
    density_max: Mapped[float | None]
    entered: Mapped[int]
    left: Mapped[int]


class CrowdAlert(Base):
    """A zone limit passed: counts, zone, camera and time; never a face or a crop."""

    __tablename__ = "crowd_alerts"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in LIMIT_KINDS)})", name="kind"),
        CheckConstraint(
            f"state IN ({', '.join(repr(s) for s in CROWD_ALERT_STATES)})", name="state"
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("crowd_zones.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # which limit: people, density, inflow
    value: Mapped[float]
    limit: Mapped[float]
    peak: Mapped[float]
    raised_at: Mapped[datetime] = mapped_column(index=True)
    released_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="new", index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]


# --- zones -----------------------------------------------------------------------------------


def zones_of(s: Session, camera_id: int) -> list[CrowdZone]:
    return list(
        s.scalars(select(CrowdZone).where(CrowdZone.camera_id == camera_id).order_by(CrowdZone.id))
    )


def all_zones(s: Session) -> list[CrowdZone]:
    return list(s.scalars(select(CrowdZone).order_by(CrowdZone.camera_id, CrowdZone.id)))


def get_zone(s: Session, zone_id: int) -> CrowdZone:
    zone = s.get(CrowdZone, zone_id)
    if zone is None:
        raise NotFound(f"zone {zone_id} does not exist")
    return zone


def zone_by_name(s: Session, camera_id: int, name: str) -> CrowdZone | None:
    return s.scalar(
        select(CrowdZone).where(CrowdZone.camera_id == camera_id, CrowdZone.name == name)
    )


# --- minutes ---------------------------------------------------------------------------------


def add_minute(s: Session, row: CrowdMinute) -> None:
    """Store one minute; a repeat of the same zone and minute (a restart) is merged into it."""
    existing = s.scalar(
        select(CrowdMinute).where(
            CrowdMinute.zone_id == row.zone_id, CrowdMinute.minute == row.minute
        )
    )
    if existing is None:
        s.add(row)
        return
    frames = existing.frames + row.frames
    existing.people_mean = (
        existing.people_mean * existing.frames + row.people_mean * row.frames
    ) / max(frames, 1)
    existing.frames = frames
    existing.people_max = max(existing.people_max, row.people_max)
    if row.density_max is not None:
        existing.density_max = max(existing.density_max or 0.0, row.density_max)
    existing.entered += row.entered
    existing.left += row.left


def minutes_of(
    s: Session,
    camera_id: int | None = None,
    zone_id: int | None = None,
    since: datetime | None = None,
) -> list[CrowdMinute]:
    query = select(CrowdMinute).order_by(CrowdMinute.minute, CrowdMinute.zone_id)
    if camera_id is not None:
        query = query.where(CrowdMinute.camera_id == camera_id)
    if zone_id is not None:
        query = query.where(CrowdMinute.zone_id == zone_id)
    if since is not None:
        query = query.where(CrowdMinute.minute >= since)
    return list(s.scalars(query))


def counting_minutes_by_group(
    s: Session, since: datetime, until: datetime
) -> dict[str, tuple[int, int]]:
    """Per camera group: (camera-minutes counted, crowd alerts raised) in the period."""
    camera_minutes = s.execute(
        select(Camera.group, CrowdMinute.camera_id, CrowdMinute.minute)
        .distinct()
        .join(Camera, Camera.id == CrowdMinute.camera_id)
        .where(CrowdMinute.minute >= since, CrowdMinute.minute < until)
    ).all()
    minutes: dict[str, int] = {}
    for group, _camera, _minute in camera_minutes:
        minutes[group] = minutes.get(group, 0) + 1
    alerts = dict(
        s.execute(
            select(Camera.group, func.count(CrowdAlert.id))
            .join(Camera, Camera.id == CrowdAlert.camera_id)
            .where(CrowdAlert.raised_at >= since, CrowdAlert.raised_at < until)
            .group_by(Camera.group)
        ).all()
    )
    result = {group: (n, int(alerts.get(group, 0))) for group, n in minutes.items()}
    for group, n in alerts.items():
        result.setdefault(group, (0, int(n)))
    return result


# --- alerts ----------------------------------------------------------------------------------


def get_alert(s: Session, alert_id: int) -> CrowdAlert:
    alert = s.get(CrowdAlert, alert_id)
    if alert is None:
        raise NotFound(f"crowd alert {alert_id} does not exist")
    return alert


def open_alert(s: Session, zone_id: int, kind: str) -> CrowdAlert | None:
    """The alert of this zone and limit still in its surge (not yet released), if any."""
    return s.scalar(
        select(CrowdAlert)
        .where(
            CrowdAlert.zone_id == zone_id,
            CrowdAlert.kind == kind,
            CrowdAlert.released_at.is_(None),
        )
        .order_by(CrowdAlert.id.desc())
        .limit(1)
    )


def list_alerts(s: Session, state: str | None = None, limit: int = 50) -> list[CrowdAlert]:
    query = select(CrowdAlert).order_by(CrowdAlert.id.desc()).limit(limit)
    if state is not None:
        query = query.where(CrowdAlert.state == state)
    return list(s.scalars(query))
