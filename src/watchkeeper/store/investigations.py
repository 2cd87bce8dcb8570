"""The tables of investigations, and their queries.

- ``cases``: a named, purpose-bound retrospective search (reference, legal basis, time window,
  camera scope, expiry), inert until a second person approves it.
- ``case_probes``: the photos of the subject that a case searches for, with their templates
  (sealed like enrolled templates).
- ``case_sources``: every recording a case's scans have met, with its SHA-256 and the scan's
  checkpoint (state, last frame analysed, the frame and track count a resumed scan restarts
  from), so that an interrupted scan continues where it may and never repeats a finished file.
- ``case_candidates``: the tracks that resembled the subject, one row per case and ``key``
  (``rec:<source>:<track>`` for a recording, ``arc:<sighting>`` for an archived sighting), so
  that a repeated or resumed scan cannot duplicate a result; each with its review.

Deleting a case deletes its probes, sources and candidates by ``ON DELETE CASCADE``; the
media files they referenced are freed by :func:`delete_case`'s caller after the commit.
Nothing of a face that did not resemble the subject is ever written here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from watchkeeper.store.alerts import Alert
from watchkeeper.store.crypto import TEMPLATE, Cipher, seal, unseal
from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.store.models import Base, Camera, Sighting, Watchlist, utcnow
from watchkeeper.store.policy import ArchivedSighting, SightingTemplate

CASE_PURPOSES = ("missing_person", "wanted_person", "victim_identification")
SOURCE_STATES = ("pending", "done", "failed", "refused", "stopped")
REVIEWS = ("is_person", "is_not")
CANDIDATE_KINDS = ("recording", "archive")
_VECTOR_DTYPE = np.dtype("<f4")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Case(Base):
    """A lawful retrospective search for one person."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("purpose", CASE_PURPOSES), name="purpose"),
        CheckConstraint("window_end > window_start", name="window"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    legal_basis: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    cameras: Mapped[list[str]] = mapped_column(JSON)
    camera_groups: Mapped[list[str]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    threshold: Mapped[float]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    approval_comment: Mapped[str | None] = mapped_column(Text)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)

    def state(self, now: datetime) -> str:
        """``pending`` (awaits approval), ``active``, ``expired`` or ``closed``."""
        if self.closed_at is not None:
            return "closed"
        if self.expires_at <= now:
            return "expired"
        return "active" if self.approved_at is not None else "pending"


class CaseProbe(Base):
    """One photo of the subject and its template (``vector``: float32 LE, maybe sealed)."""

    __tablename__ = "case_probes"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    media_sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int]
    height: Mapped[int]
    face_box: Mapped[list[float]]
    quality: Mapped[float]
    model: Mapped[str] = mapped_column(String(100))
    dimension: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseSource(Base):
    """A recording met by a case's scans, with the checkpoint of its scan."""

    __tablename__ = "case_sources"
    __table_args__ = (
        UniqueConstraint("case_id", "path"),
        CheckConstraint(_in("state", SOURCE_STATES), name="state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    camera: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    started_at: Mapped[datetime | None]  # the recording's first frame
    time_source: Mapped[str | None] = mapped_column(String(32))  # file name, container, option
    fps: Mapped[float | None]
    frames: Mapped[int | None]  # as the container declares them
    sample_fps: Mapped[float | None]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    last_frame: Mapped[int] = mapped_column(default=-1)  # the last frame analysed
    resume_frame: Mapped[int] = mapped_column(default=0)  # a resumed scan restarts here ...
    resume_tracks: Mapped[int] = mapped_column(default=0)  # ... with this many tracks before
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseCandidate(Base):
    """A track that resembled the subject: where, when, how much, and the reviewer's word."""

    __tablename__ = "case_candidates"
    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        CheckConstraint(_in("kind", CANDIDATE_KINDS), name="kind"),
        CheckConstraint(_in("review", REVIEWS), name="review"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_sources.id", ondelete="CASCADE"), index=True
    )
    sighting_id: Mapped[int | None]  # no FK: the archive may purge the sighting before the case
    camera: Mapped[str] = mapped_column(String(200))
    track_id: Mapped[int]
    first_frame: Mapped[int]
    last_frame: Mapped[int]
    best_frame: Mapped[int]
    detections: Mapped[int]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    score: Mapped[float]
    threshold: Mapped[float]
    probe_id: Mapped[int | None]
    model: Mapped[str] = mapped_column(String(100))
    crop_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    box: Mapped[list[float]]
    quality: Mapped[float]
    review: Mapped[str | None] = mapped_column(String(16))
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- cases -----------------------------------------------------------------------------------


def add_case(s: Session, case: Case) -> Case:
    if case.purpose not in CASE_PURPOSES:
        raise StoreError(f"purpose {case.purpose!r} is not one of: {', '.join(CASE_PURPOSES)}")
    if s.scalar(select(Case.id).where(Case.reference == case.reference)) is not None:
        raise StoreError(f'case "{case.reference}" already exists')
    s.add(case)
    try:
        s.flush()
    except IntegrityError as exc:
        raise StoreError(f'case "{case.reference}" already exists') from exc
    return case


def get_case(s: Session, case_id: int | str) -> Case:
    """By id, or by reference when given text that is not a number."""
    found = None
    if isinstance(case_id, int) or str(case_id).isdigit():
        found = s.get(Case, int(case_id))
    if found is None and isinstance(case_id, str):
        found = s.scalar(select(Case).where(Case.reference == case_id))
    if found is None:
        raise NotFound(f"case {case_id} does not exist")
    return found


def list_cases(s: Session, after_id: int | None = None, limit: int | None = None) -> list[Case]:
    query = select(Case).order_by(Case.id)
    if after_id is not None:
        query = query.where(Case.id > after_id)
    return list(s.scalars(query.limit(limit)))


def delete_case(s: Session, case: Case) -> list[str]:
    """Delete the case with its probes, sources and candidates; return media to consider
    freeing (the caller keeps those another row still references)."""
    shas = set(s.scalars(select(CaseProbe.media_sha256).where(CaseProbe.case_id == case.id)))
    shas |= {
        sha
        for sha in s.scalars(
            select(CaseCandidate.crop_sha256).where(CaseCandidate.case_id == case.id)
        )
        if sha
    }
    s.delete(case)
    s.flush()
    return sorted(shas)


def expired_cases(s: Session, before: datetime) -> list[Case]:
    """Cases that expired or were closed before ``before``."""
    query = (
        select(Case)
        .where(or_(Case.expires_at <= before, Case.closed_at <= before))
        .order_by(Case.id)
    )
    return list(s.scalars(query))


def case_media(s: Session, shas: Sequence[str]) -> set[str]:
    """Those of ``shas`` that some case still refers to (a probe photo or a candidate crop)."""
    wanted = list(set(shas))
    if not wanted:
        return set()
    used = set(s.scalars(select(CaseProbe.media_sha256).where(CaseProbe.media_sha256.in_(wanted))))
    used |= set(
        s.scalars(select(CaseCandidate.crop_sha256).where(CaseCandidate.crop_sha256.in_(wanted)))
    )
    return {sha for sha in used if sha}


# --- probes ----------------------------------------------------------------------------------


def add_probe(
    s: Session,
    case: Case,
    sha: str,
    width: int,
    height: int,
    box: Sequence[float],
    quality: float,
    model: str,
    vector: npt.ArrayLike,
    created_by: str,
    cipher: Cipher | None = None,
) -> CaseProbe:
    values = np.asarray(vector, dtype=_VECTOR_DTYPE).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise StoreError(f"probe template of model {model} is empty or not finite")
    row = CaseProbe(
        case_id=case.id,
        media_sha256=sha,
        width=width,
        height=height,
        face_box=[float(v) for v in box],
        quality=float(quality),
        model=model,
        dimension=int(values.size),
        vector=seal(cipher, values.tobytes(), TEMPLATE),
        created_by=created_by,
    )
    s.add(row)
    s.flush()
    return row


def probes_of(s: Session, case_id: int) -> list[CaseProbe]:
    return list(s.scalars(select(CaseProbe).where(CaseProbe.case_id == case_id).order_by("id")))


def probe_templates(
    s: Session, case_id: int, model: str, cipher: Cipher | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The case's probe ids and templates (N, D) of ``model``."""
    rows = [
        (p.id, unseal(cipher, p.vector, TEMPLATE, f"probe {p.id}", 4 * p.dimension))
        for p in probes_of(s, case_id)
        if p.model == model
    ]
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    vectors = np.frombuffer(b"".join(blob for _, blob in rows), _VECTOR_DTYPE)
    return np.array([i for i, _ in rows], np.int64), vectors.reshape(len(rows), -1).copy()


# --- sources and checkpoints -----------------------------------------------------------------


def find_source(s: Session, case_id: int, path: str) -> CaseSource | None:
    return s.scalar(
        select(CaseSource).where(CaseSource.case_id == case_id, CaseSource.path == path)
    )


def get_source(s: Session, source_id: int) -> CaseSource:
    row = s.get(CaseSource, source_id)
    if row is None:
        raise NotFound(f"recording {source_id} of a case does not exist")
    return row


def add_source(s: Session, case_id: int, path: str) -> CaseSource:
    row = CaseSource(case_id=case_id, path=path, state="pending")
    s.add(row)
    s.flush()
    return row


def sources_of(s: Session, case_id: int) -> list[CaseSource]:
    query = select(CaseSource).where(CaseSource.case_id == case_id).order_by(CaseSource.id)
    return list(s.scalars(query))


# --- candidates ------------------------------------------------------------------------------


def add_candidate(s: Session, row: CaseCandidate) -> bool:
    """Insert unless the case already holds a candidate with this key; True if inserted."""
    exists = select(CaseCandidate.id).where(
        CaseCandidate.case_id == row.case_id, CaseCandidate.key == row.key
    )
    if s.scalar(exists) is not None:
        return False
    s.add(row)
    s.flush()
    return True


def add_candidates(s: Session, rows: Sequence[CaseCandidate]) -> int:
    """Insert those whose key the case does not hold yet, with one query; how many."""
    if not rows:
        return 0
    by_case: dict[int, set[str]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, set()).add(row.key)
    held = {
        (case_id, key)
        for case_id, keys in by_case.items()
        for key in s.scalars(
            select(CaseCandidate.key).where(
                CaseCandidate.case_id == case_id, CaseCandidate.key.in_(sorted(keys))
            )
        )
    }
    new = []
    for row in rows:
        if (row.case_id, row.key) not in held:
            held.add((row.case_id, row.key))
            new.append(row)
    s.add_all(new)
    s.flush()
    return len(new)


def candidates_of(s: Session, case_id: int) -> list[CaseCandidate]:
    """Best first (score, then time, then id for a stable order)."""
    query = (
        select(CaseCandidate)
        .where(CaseCandidate.case_id == case_id)
        .order_by(CaseCandidate.score.desc(), CaseCandidate.started_at, CaseCandidate.id)
    )
    return list(s.scalars(query))


def get_candidate(s: Session, case_id: int, candidate_id: int) -> CaseCandidate:
    row = s.get(CaseCandidate, candidate_id)
    if row is None or row.case_id != case_id:
        raise NotFound(f"candidate {candidate_id} of case {case_id} does not exist")
    return row


@dataclass(frozen=True, slots=True)
class ReviewedScore:
    """A decided live alert or a reviewed candidate: its score, and whether it was right."""

    group: str  # a watchlist name, or "case:<reference>"
    threshold: float
    score: float
    correct: bool


def reviewed_scores(s: Session, default_threshold: float) -> list[ReviewedScore]:
    """Confirmed and rejected live alerts per watchlist, reviewed candidates per case."""
    found = [
        ReviewedScore(
            name,
            threshold if threshold is not None else default_threshold,
            score,
            state == "confirmed",
        )
        for name, threshold, score, state in s.execute(
            select(Watchlist.name, Watchlist.threshold, Alert.score, Alert.state)
            .join(Watchlist, Alert.watchlist_id == Watchlist.id)
            .where(Alert.state.in_(("confirmed", "rejected")))
        )
    ]
    found += [
        ReviewedScore(f"case:{reference}", threshold, score, review == "is_person")
        for reference, threshold, score, review in s.execute(
            select(Case.reference, Case.threshold, CaseCandidate.score, CaseCandidate.review)
            .join(Case, CaseCandidate.case_id == Case.id)
            .where(CaseCandidate.review.is_not(None))
        )
    ]
    return found


# --- the archive, as the retrospective search reads it ---------------------------------------


@dataclass(frozen=True, slots=True)
class ArchivedRows:
    """Templates of archived sightings as parallel arrays (one row per template)."""

    template_ids: npt.NDArray[np.int64]
    sighting_ids: npt.NDArray[np.int64]
    camera_ids: npt.NDArray[np.int64]
    groups: list[str]  # the camera group each sighting was archived under
    started: npt.NDArray[np.float64]  # Unix seconds
    ended: npt.NDArray[np.float64]
    expires: npt.NDArray[np.float64]
    vectors: npt.NDArray[np.float32]  # (N, D)

    def __len__(self) -> int:
        return int(self.template_ids.shape[0])


def archive_stamp(s: Session, model: str) -> tuple[int, int]:
    """(count, highest id) of the archive's templates of ``model``: changes with every
    addition and deletion, so an in-memory copy knows when to reload."""
    count, highest = s.execute(
        select(func.count(SightingTemplate.id), func.max(SightingTemplate.id)).where(
            SightingTemplate.model == model
        )
    ).one()
    return int(count or 0), int(highest or 0)


def archive_highest(s: Session, model: str) -> int:
    """The highest id of the archive's templates of ``model``: one index lookup, so a search
    can afford it every time (counting them all, as :func:`archive_stamp` does, cannot)."""
    highest = s.scalar(select(func.max(SightingTemplate.id)).where(SightingTemplate.model == model))
    return int(highest or 0)


def archived_rows(
    s: Session, model: str, after_id: int = 0, cipher: Cipher | None = None
) -> ArchivedRows:
    """Every archived template of ``model`` with an id above ``after_id``, with what a search
    filters on (camera, group, time as Unix seconds, expiry)."""
    sqlite = s.get_bind().dialect.name == "sqlite"
    query = (
        select(
            SightingTemplate.id,
            SightingTemplate.sighting_id,
            Sighting.camera_id,
            ArchivedSighting.camera_group,
            _epoch(Sighting.started_at, sqlite),
            _epoch(Sighting.ended_at, sqlite),
            _epoch(ArchivedSighting.expires_at, sqlite),
            SightingTemplate.dimension,
            SightingTemplate.vector,
        )
        .join(ArchivedSighting, ArchivedSighting.sighting_id == SightingTemplate.sighting_id)
        .join(Sighting, Sighting.id == SightingTemplate.sighting_id)
        .where(SightingTemplate.model == model, SightingTemplate.id > after_id)
        .order_by(SightingTemplate.id)
    )
    rows = s.execute(query).all()
    n = len(rows)
    if not n:
        empty = np.zeros(0, np.int64)
        times = np.zeros(0, np.float64)
        return ArchivedRows(empty, empty, empty, [], times, times, times, np.zeros((0, 0), "f4"))
    blobs = [unseal(cipher, r[8], TEMPLATE, f"sighting template {r[0]}", 4 * r[7]) for r in rows]
    if len({len(b) for b in blobs}) > 1:
        raise StoreError(f"archived templates of model {model} have different dimensions")
    return ArchivedRows(
        template_ids=np.fromiter((r[0] for r in rows), np.int64, n),
        sighting_ids=np.fromiter((r[1] for r in rows), np.int64, n),
        camera_ids=np.fromiter((r[2] for r in rows), np.int64, n),
        groups=[r[3] for r in rows],
        started=np.fromiter((r[4] for r in rows), np.float64, n),
        ended=np.fromiter((r[5] for r in rows), np.float64, n),
        expires=np.fromiter((r[6] for r in rows), np.float64, n),
        vectors=np.frombuffer(b"".join(blobs), _VECTOR_DTYPE).reshape(n, -1).astype(np.float32),
    )


def _epoch(column: Any, sqlite: bool) -> ColumnElement[Any]:
    """A time as Unix seconds, computed by the database: parsing 100,000 times in Python
    would cost seconds. (SQLite keeps them as naive UTC text, PostgreSQL as timestamptz.)"""
    if sqlite:
        return (func.julianday(column) - 2440587.5) * 86400.0
    return func.extract("epoch", column)


def camera_ids(s: Session, names: Sequence[str]) -> list[int]:
    return list(s.scalars(select(Camera.id).where(Camera.name.in_(list(names)))))


@dataclass(frozen=True, slots=True)
class ArchivedSightingInfo:
    sighting: Sighting
    camera: str
    camera_group: str


def archived_sightings(s: Session, sighting_ids: Sequence[int]) -> dict[int, ArchivedSightingInfo]:
    if not sighting_ids:
        return {}
    rows = s.execute(
        select(Sighting, Camera.name, Camera.group)
        .join(Camera, Camera.id == Sighting.camera_id)
        .where(Sighting.id.in_(list(sighting_ids)))
    )
    return {row[0].id: ArchivedSightingInfo(row[0], row[1], row[2]) for row in rows}


def camera_group_of(s: Session, camera: str) -> str | None:
    return s.scalar(select(Camera.group).where(Camera.name == camera))


def count_candidates(s: Session, case_id: int) -> int:
    query = select(func.count(CaseCandidate.id)).where(CaseCandidate.case_id == case_id)
    return int(s.scalar(query) or 0)
