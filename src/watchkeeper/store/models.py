"""The tables, as typed SQLAlchemy 2 ORM classes.

The same classes serve SQLite and PostgreSQL. Times are always timezone-aware UTC in Python;
:class:`UtcDateTime` stores them as naive UTC on SQLite (which has no time zones) and as
``timestamptz`` on PostgreSQL, so a comparison in SQL means the same on both.

Deleting a watchlist or a person removes its photos, templates and matches through
``ON DELETE CASCADE`` in the database itself, so a delete is complete whichever code issues it.
The schema is created by the Alembic migrations in ``migrations/versions``, never by
``create_all``; a test checks that the two agree.

An id that leaves the store (API URLs, the audit log, notifications, exports, a gallery held in
memory) is never handed out again: such tables are ``sqlite_autoincrement``, because SQLite
otherwise gives a new row the highest id plus one, so the newest row deleted would lend its id
to the next (PostgreSQL's sequences never do). Migration 0012 says which tables keep plain ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

PURPOSES = ("missing_person", "wanted_person", "victim_identification", "security", "other")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} given: use an aware one (e.g. UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, list[float]: JSON}


class Watchlist(Base):
    """A purpose-bound list of persons to look for, with the legal basis that allows it."""

    __tablename__ = "watchlists"
    __table_args__ = (
        CheckConstraint(f"purpose IN ({', '.join(repr(p) for p in PURPOSES)})", name="purpose"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    legal_basis: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    review_by: Mapped[datetime | None]
    threshold: Mapped[float | None]  # None: the configured default threshold
    confirmations_required: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    persons: Mapped[list[Person]] = relationship(
        back_populates="watchlist", cascade="all, delete-orphan", passive_deletes=True
    )


class Person(Base):
    __tablename__ = "persons"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))

    watchlist: Mapped[Watchlist] = relationship(back_populates="persons")
    photos: Mapped[list[Photo]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )
    templates: Mapped[list[Template]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )


class Photo(Base):
    """An enrolment photo, kept so the gallery can be re-templated with a new model."""

    __tablename__ = "photos"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    media_sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int]
    height: Mapped[int]
    face_box: Mapped[list[float]]  # x1, y1, x2, y2 in photo pixels
    quality: Mapped[float]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="photos")


class Template(Base):
    """One enrolled face embedding; ``vector`` is float32 little-endian bytes.

    Its id is never handed out again, even on SQLite (``AUTOINCREMENT``; PostgreSQL's
    sequences never reuse one): a running gallery tells a deleted template from a new one by
    id alone (docs/decisions/0044-deletes-followed.md).
    """

    __tablename__ = "templates"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(100), index=True)
    dimension: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="templates")


class TemplateDeletion(Base):
    """A deleted template's id, noted by a trigger in the same transaction as the delete,
    whatever deleted it (a person, photo or list removed, the retention purge, a cascade).

    Running galleries read the deletions noted since they last looked instead of every stored
    template id (docs/decisions/0044-deletes-followed.md). No face data: an id, the model and
    when; the retention purge drops notes older than a day.
    """

    __tablename__ = "template_deletions"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    seq: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int]
    model: Mapped[str] = mapped_column(String(100))
    deleted_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())


class TemplateTally(Base):
    """A part of a model's count of templates and sum of their ids, kept by triggers in the
    transaction that changes ``templates`` (migration 0014). The parts of a model add up to
    the two numbers a running gallery compares its own with at every refresh, read from a few
    rows instead of counted over every template; each change of the gallery folds them into
    one, and the retention purge counts them again from the templates."""

    __tablename__ = "template_tallies"

    seq: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(100), index=True)
    templates: Mapped[int] = mapped_column(BigInteger)
    id_sum: Mapped[int] = mapped_column(BigInteger)


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uri: Mapped[str] = mapped_column(Text)
    group: Mapped[str] = mapped_column(String(100), default="default")
    analysis_fps: Mapped[float]
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: the configured default (vision.min_face_size, vision.detection_threshold)
    min_face_size: Mapped[int | None]
    detection_threshold: Mapped[float | None]
    roi: Mapped[list[float] | None]  # [x1, y1, x2, y2] or a polygon [x, y, x, y, ...]; None: all
    motion_gating: Mapped[bool | None]  # None: the configured default (motion.enabled)
    # False: the camera only counts people in its zones (crowd), no face is ever detected
    face_recognition: Mapped[bool] = mapped_column(default=True, server_default=true())


class Sighting(Base):
    """A track that matched a watchlist. Unmatched tracks are never stored."""

    __tablename__ = "sightings"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), index=True)
    track_id: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime]
    first_frame: Mapped[int]
    last_frame: Mapped[int]
    detections: Mapped[int]
    best_frame: Mapped[int]
    crop_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    quality: Mapped[float]
    model: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Match(Base):
    __tablename__ = "matches"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    sighting_id: Mapped[int] = mapped_column(
        ForeignKey("sightings.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float]
    threshold: Mapped[float]
    template_id: Mapped[int | None]  # no FK: the template may be re-enrolled away later
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEvent(Base):
    """One link of the audit hash chain (see ``watchkeeper.policy.audit``)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Meta(Base):
    """Small named values, e.g. ``gallery_version`` which running matchers poll."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
