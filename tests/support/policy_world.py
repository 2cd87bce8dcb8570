"""A small real installation for the accountability tests: SQLite file, media folder, the real
models, persons enrolled from real photos, and sightings whose templates are real embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

from watchkeeper.config import MatchingConfig, PolicyConfig, Settings
from watchkeeper.domain import Sighting
from watchkeeper.enrolment import EnrolledPerson, enrol_person
from watchkeeper.policy import audit, deployments
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.recognition import Recogniser
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.store.crypto import Cipher
from watchkeeper.store.models import AuditEvent
from watchkeeper.vision import FaceAnalyzer

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "examples" / "data" / "facenet-pytorch" / "test_images"
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


def authorised_store(
    settings: Settings, watchlist: str, purpose: str
) -> tuple[Database, MediaStore]:
    """The migrated store of ``settings`` with one watchlist authorised on the default camera
    group (from long ago until tomorrow): what a pipeline test needs before it enrols."""
    db = Database(settings.database)
    db.migrate()
    with db.session() as s:
        repository.create_watchlist(s, watchlist, purpose, "test", "test")
        deployments.authorise(
            s, watchlist, "default", LONG_AGO, soon(), "test", "TEST-1", "test"
        )  # fmt: skip
    return db, MediaStore(settings.data_dir / "media")


@dataclass
class World:
    db: Database
    media: MediaStore
    analyzer: FaceAnalyzer

    def watchlist(
        self, name: str, purpose: str = "missing_person", review_by: datetime | None = None
    ) -> int:
        with self.db.session() as s:
            wl = repository.create_watchlist(
                s, name, purpose, "test basis", "test owner", review_by
            )
            audit.record(s, "user:owner", "watchlist.create", "watchlist", wl.id)
            return wl.id

    def enrol(
        self,
        watchlist: str,
        who: str = "angelina_jolie",
        actor: str = "user:alice",
        expires_at: datetime | None = None,
    ) -> EnrolledPerson:
        photo = PHOTOS / who / "1.jpg"
        return enrol_person(
            self.db, self.media, self.analyzer, watchlist=watchlist, name=who,
            photos=[(photo.name, photo.read_bytes())], actor=actor, reason="test",
            expires_at=expires_at, max_pixels=10**8, min_quality=0.3, largest_face=True,
        )  # fmt: skip

    def camera(self, name: str, group: str) -> None:
        with self.db.session() as s:
            repository.get_or_create_camera(s, name, f"file:{name}", group)

    def authorise(
        self, watchlist: str, group: str, start: datetime = LONG_AGO, end: datetime | None = None
    ) -> int:
        with self.db.session() as s:
            row = deployments.authorise(
                s, watchlist, group, start, end or soon(), "judge", "REF-1", "user:owner"
            )
            return row.id

    def recogniser(
        self, require_authorisation: bool = True, counters: ActivityCounters | None = None
    ) -> Recogniser:
        return Recogniser(
            self.db, MatchingConfig(), self.analyzer.model, self.analyzer.embedder.dimension,
            policy=PolicyConfig(require_authorisation=require_authorisation),
            cipher=self.media.cipher, counters=counters,
        )  # fmt: skip

    def audit_ok(self) -> bool:
        with self.db.session(readonly=True) as s:
            return audit.verify(s).ok

    def actions(self) -> list[str]:
        with self.db.session(readonly=True) as s:
            return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def make_world(root: Path, analyzer: FaceAnalyzer, cipher: Cipher | None = None) -> World:
    db = Database(f"sqlite:///{root / 'watchkeeper.db'}")
    db.migrate()
    return World(db, MediaStore(root / "media", cipher=cipher), analyzer)


def sighting_of(enrolled: EnrolledPerson, camera: str, at: datetime, model: str) -> Sighting:
    """A sighting on ``camera`` at ``at`` whose template is the enrolled photo's embedding."""
    template = np.asarray(enrolled.photos[0].template, np.float32)[None, :]
    stamp = at.timestamp()
    return Sighting(
        camera=camera, track_id=1, started_at=stamp - 1, ended_at=stamp, first_frame=0,
        last_frame=5, detections=6, best_frame=3, best_box=np.array([0, 0, 40, 40], np.float32),
        best_crop=np.full((48, 48, 3), 127, np.uint8), best_quality=0.8, templates=template,
        model=model,
    )  # fmt: skip
