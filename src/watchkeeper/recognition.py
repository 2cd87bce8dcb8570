"""The recognition service on one machine: the gallery kept in step with the store, sightings
matched against it, and only matched sightings written back.

This is where the privacy default is enforced: :func:`record_matches` is the only way a
sighting reaches the store, and it refuses one without a match. A sighting that matched
nothing is simply dropped by the caller, and with it the crop and templates of a passer-by.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from watchkeeper.config import MatchingConfig
from watchkeeper.domain import Match, Sighting
from watchkeeper.matching import Gallery, decide
from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.vision.imageio import encode_jpeg

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:pipeline"


class Recogniser:
    """Matches sightings against every enrolled template of one embedder model."""

    def __init__(self, db: Database, config: MatchingConfig, model: str, dimension: int) -> None:
        self.db = db
        self.config = config
        self.model = model
        self.gallery = Gallery(model, dimension, exact_limit=config.exact_search_limit)
        self._thresholds: dict[int, float] = {}
        self._expiry: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Rebuild the gallery when the store's gallery version moved; True if it did."""
        with self._lock, self.db.session() as session:
            version = repository.gallery_version(session)
            if not force and version == self.gallery.version:
                return False
            now = datetime.now(UTC)
            ids, persons, watchlists, vectors = repository.gallery_templates(
                session, self.model, active_at=now
            )
            self._thresholds = {
                wl.id: (wl.threshold if wl.threshold is not None else self.config.default_threshold)
                for wl, _count in repository.list_watchlists(session)
            }
            self._expiry = {
                p.id: _aware(p.expires_at)
                for p in repository.list_persons(session)
                if p.expires_at is not None
            }
        if len(ids):
            self.gallery.rebuild(
                ids, persons, watchlists, vectors, model=self.model, version=version
            )
        else:
            self.gallery = Gallery(
                self.model, self.gallery.dimension, exact_limit=self.config.exact_search_limit
            )
            self.gallery.version = version
        log.info("gallery at version %d: %d templates", version, len(ids))
        return True

    def match(self, sighting: Sighting) -> list[Match]:
        """The watchlist entries this sighting matches (empty for almost everyone)."""
        if len(self.gallery) == 0 or len(sighting.templates) == 0:
            return []
        now = datetime.now(UTC)
        decision = decide(
            sighting.templates,
            self.gallery,
            self._thresholds,
            self.config.default_threshold,
            fusion=self.config.fusion,
            top_k=self.config.top_k,
            eligible=lambda person, _watchlist: self._expiry.get(person, now) >= now,
            model=sighting.model,
        )
        return decision.matches_for(sighting)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Recorded:
    sighting_id: int
    match_ids: list[int]


def record_matches(
    db: Database,
    media: MediaStore,
    camera_uri: str,
    results: Iterable[tuple[Sighting, list[Match]]],
    camera_group: str = "default",
    analysis_fps: float = 5.0,
) -> list[Recorded]:
    """Store matched sightings (crop, sighting, matches, audit) in one transaction.

    Raises ``ValueError`` for a sighting without matches: those must never be stored.
    """
    pending = list(results)
    for sighting, matches in pending:
        if not matches:
            raise ValueError(
                f"sighting {sighting.camera}/{sighting.track_id} has no match "
                "and must not be stored"
            )
    if not pending:
        return []
    recorded = []
    with media.transaction() as files, db.session() as session:
        cameras = {}
        for sighting, matches in pending:
            if sighting.camera not in cameras:
                cameras[sighting.camera] = repository.get_or_create_camera(
                    session, sighting.camera, camera_uri, camera_group, analysis_fps
                )
            crop_sha = files.put(encode_jpeg(sighting.best_crop), ".jpg")
            row = repository.save_sighting(session, cameras[sighting.camera], sighting, crop_sha)
            match_rows = [repository.save_match(session, row, match) for match in matches]
            audit.record(
                session,
                actor=SYSTEM_ACTOR,
                action="match.record",
                object_type="sighting",
                object_id=row.id,
                details={
                    "camera": sighting.camera,
                    "matches": [
                        {
                            "person": m.person_id,
                            "watchlist": m.watchlist_id,
                            "score": round(m.score, 4),
                        }
                        for m in matches
                    ],
                },
            )
            recorded.append(Recorded(int(row.id), [int(m.id) for m in match_rows]))
    return recorded
