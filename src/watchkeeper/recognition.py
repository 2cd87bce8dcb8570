"""The recognition service on one machine: the gallery kept in step with the store, sightings
matched against it, and only matched sightings written back.

This is where the privacy default is enforced: :func:`record_matches` is the only way a
sighting reaches the store, and it refuses one without a match. A sighting that matched
nothing is simply dropped by the caller, and with it the crop and templates of a passer-by —
unless its camera group is in archive mode, where :func:`record_archived` keeps it until
its expiry (``Recogniser.archive_days`` says whether it is).

Matching obeys the accountability rules of ``policy.eligibility``: expired or unapproved
entries, lists past their review date and lists without an authorised deployment for the
camera's group at the sighting's time are never candidates. Matches those rules blocked are
counted per reason (counts only) for the transparency report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from watchkeeper.config import MatchingConfig, PolicyConfig
from watchkeeper.domain import FloatArray, Match, Outcome, Sighting
from watchkeeper.matching import Decision, Gallery, decide
from watchkeeper.policy import audit
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.policy.eligibility import PolicySnapshot, load_snapshot
from watchkeeper.store import Database, MediaStore, models, repository
from watchkeeper.store import policy as policy_store
from watchkeeper.store.crypto import TEMPLATE, Cipher, seal
from watchkeeper.store.uri_secrets import seal_uri
from watchkeeper.vision.imageio import encode_jpeg

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:pipeline"
# How the accountability rules' block reasons read in a sighting's outcome.
BLOCK_REASONS = {
    "pending_approval": "person pending approval",
    "not_authorised": "no authorised deployment",
    "expired": "entry expired",
    "review_overdue": "watchlist review overdue",
}
# A sighting from a camera the rules do not know yet reloads them, at most this often; and
# they are reloaded at least this often, so that a camera moved to another group is followed.
UNKNOWN_CAMERA_RELOAD_S = 5.0
RULES_MAX_AGE_S = 60.0
# The gallery follows the store instead of being rebuilt at each change (at a million templates
# a rebuild took 20 s and 33 CPU-seconds, in every replica; decisions 0043 and 0044): the
# templates stored since the newest it holds are added, and those it holds that the store no
# longer does are masked (template ids are never reused). It is rebuilt from the
# store when a template was committed late under an older id, and once an approximate index
# has changed by this share (templates added or masked) since its lists were trained.
RETRAIN_GROWTH = 0.25
# The store's kept tally of a model's templates (migration 0014) is what a refresh checks its
# gallery against; this often it is counted over the templates instead, so that a change made
# behind the store's triggers is followed within this time, not only after the daily recount.
TALLY_RECOUNT_S = 600.0


@dataclass(frozen=True, slots=True)
class _GalleryChanges:
    """What brings a running gallery in step with the store without a rebuild."""

    gone: npt.NDArray[np.int64]  # ids of templates it holds that the store no longer does
    rows: tuple[npt.NDArray[np.int64], ...]  # template, person and watchlist ids stored since
    vectors: FloatArray  # those templates
    deletions_seen: int  # the newest deletion note read


class Recogniser:
    """Matches sightings against every enrolled template of one embedder model.

    ``policy`` decides whether matching needs an authorised deployment (default: it does);
    ``cipher`` reads encrypted templates; ``counters`` receives the sightings and the matches
    blocked by policy, as numbers.
    """

    def __init__(
        self,
        db: Database,
        config: MatchingConfig,
        model: str,
        dimension: int,
        *,
        policy: PolicyConfig | None = None,
        cipher: Cipher | None = None,
        counters: ActivityCounters | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.model = model
        self.cipher = cipher
        self.counters = counters
        self.gallery = self._empty_gallery(dimension)
        self.rules = PolicySnapshot((policy or PolicyConfig()).require_authorisation, version=-1)
        self._thresholds: dict[int, float] = {}
        self._lock = threading.Lock()
        self._gallery_lock = threading.Lock()  # one gallery change at a time; taken first
        self._rules_loaded = 0.0
        self._loaded = False
        self._newest_template = 0  # the highest template id the gallery holds
        self._deletions_seen = 0  # the newest deletion note the gallery has followed
        self.stored_id_reads = 0  # refreshes that had to read every stored template id
        self._counted_at = 0.0  # when the gallery was last checked against the rows themselves
        self._built_rows = 0  # rows at the last rebuild, and added since
        self._added = 0
        self.last_refresh: Literal["rebuilt", "followed"] | None = None
        self.refresh(force=True)

    def _empty_gallery(self, dimension: int) -> Gallery:
        return Gallery(
            self.model,
            dimension,
            exact_limit=self.config.exact_search_limit,
            ann=self.config.ann_index,
            ivf_nprobe=self.config.ivf_nprobe,
        )

    def refresh(self, force: bool = False) -> bool:
        """Reload what changed in the store: the policy rules, and the gallery when its
        version moved (``force``: both, whatever the versions). True if anything was reloaded.

        Expired and unapproved entries stay in the gallery, blocked at match time and counted,
        until the retention job or a rejection deletes them.
        """
        with self._gallery_lock:
            with self._lock, self.db.session(readonly=True) as session:
                version = repository.gallery_version(session)
                gallery_moved = force or version != self.gallery.version
                rules_moved = policy_store.policy_version(session) != self.rules.version
                if not gallery_moved and not rules_moved:
                    return False
                self.rules = load_snapshot(session, self.rules.require_authorisation)
                self._rules_loaded = time.monotonic()
                default = self.config.default_threshold
                self._thresholds = {
                    wl.id: wl.threshold if wl.threshold is not None else default
                    for wl in repository.watchlists(session)
                }
                if not gallery_moved:
                    return True
                changes = self._gallery_changes(session)
            if changes is None:
                self._rebuild(version)
            else:
                self._follow(version, changes)
        return True

    def _gallery_changes(self, session: Session) -> _GalleryChanges | None:
        """What the store holds and the gallery does not, and the reverse; None where only a
        rebuild brings the gallery in step.

        The templates deleted since its last look are those the store noted (migration
        0013). The store's count and sum of template ids (kept by its triggers, migration
        0014; counted over the rows every ``TALLY_RECOUNT_S``), against the gallery's less
        those and plus those stored since, tell whether anything else changed; only then are
        the stored ids read, to find a deletion it did not see noted (ids are never reused) or
        a template committed late under an older id.
        """
        gallery = self.gallery
        if not self._loaded:
            return None
        held = gallery.template_ids()
        # the tally first: a change committed while the rest is read then shows in the rest
        # (on PostgreSQL each statement sees what has committed by then) and costs at most a
        # read of the ids below, never a rebuild
        if time.monotonic() - self._counted_at >= TALLY_RECOUNT_S:
            self._counted_at = time.monotonic()
            tally = repository.counted_template_tally(session, self.model)
        else:
            tally = repository.template_tally(session, self.model)
        deleted, deletions_seen = repository.template_deletions(
            session, self.model, self._deletions_seen
        )
        ids, persons, watchlists, vectors = repository.gallery_templates(
            session, self.model, cipher=self.cipher, after_id=self._newest_template
        )
        noted = np.isin(held, deleted)
        gone = held[noted]
        expected = np.concatenate([held[~noted], ids])
        if tally != (len(expected), int(expected.sum())):
            self.stored_id_reads += 1
            stored = repository.template_ids(session, self.model)
            kept = np.isin(held, stored)
            gone, expected = held[~kept], np.concatenate([held[kept], ids])
            if len(stored) != len(expected) or not np.isin(stored, expected).all():
                return None  # committed late under an id older than the newest held
        changed = self._added + len(ids) + gallery.masked + len(gone)
        if gallery.kind != "exact" and changed > RETRAIN_GROWTH * self._built_rows:
            return None  # its lists were trained on too different a set: retrain them
        return _GalleryChanges(gone, (ids, persons, watchlists), vectors, deletions_seen)

    def _rebuild(self, version: int) -> None:
        with self.db.session(readonly=True) as session:
            deletions_seen = repository.newest_template_deletion(session)
            ids, persons, watchlists, vectors = repository.gallery_templates(
                session, self.model, cipher=self.cipher
            )
        if len(ids):
            self.gallery.rebuild(
                ids, persons, watchlists, vectors, model=self.model, version=version
            )
        else:
            self.gallery = self._empty_gallery(self.gallery.dimension)
            self.gallery.version = version
        self._loaded = True
        self._newest_template = int(ids.max()) if len(ids) else 0
        self._deletions_seen = deletions_seen
        self._counted_at = time.monotonic()  # built from the rows: as good as a count of them
        self._built_rows, self._added = len(ids), 0
        self.last_refresh = "rebuilt"
        log.info("gallery at version %d: %d templates (rebuilt)", version, len(ids))

    def _follow(self, version: int, changes: _GalleryChanges) -> None:
        """Mask what was deleted and add what was enrolled since: about a second at a million
        templates, where a rebuild takes about 20."""
        if len(changes.gone):
            self.gallery.remove_templates(changes.gone)
        ids = changes.rows[0]
        if len(ids):
            self.gallery.add(*changes.rows, changes.vectors, model=self.model)
            self._newest_template = max(self._newest_template, int(ids.max()))
            self._added += len(ids)
        self._deletions_seen = changes.deletions_seen
        self.gallery.version = version
        self.last_refresh = "followed"
        log.info(
            "gallery at version %d: %d templates (%d added, %d removed)",
            version, len(self.gallery), len(ids), len(changes.gone),
        )  # fmt: skip

    def screen(self, templates: FloatArray) -> npt.NDArray[np.bool_]:
        """Which tracks, by their best face's template (N, D), deserve more templates.

        Only those whose nearest enrolled template scores near or above the lowest threshold
        in force (``screening_margin`` below it). A track's best face is its clearest, so when
        it is far from everyone enrolled, its lesser faces are very unlikely to match: measured
        on the demo clip, this embeds 40 % fewer faces and finds the same matches.
        """
        if len(self.gallery) == 0 or len(templates) == 0:
            return np.zeros(len(templates), bool)
        lowest = min(self._thresholds.values(), default=self.config.default_threshold)
        found = self.gallery.search(templates, 1, model=self.model)
        return np.asarray(found.scores[:, 0] >= lowest - self.config.screening_margin)

    def match(self, sighting: Sighting) -> list[Match]:
        """The watchlist entries this sighting may and does match (empty for almost everyone)."""
        age = time.monotonic() - self._rules_loaded
        if age > RULES_MAX_AGE_S or (
            age > UNKNOWN_CAMERA_RELOAD_S and sighting.camera not in self.rules.camera_groups
        ):
            self._reload_rules()
        rules = self.rules
        now = datetime.now(UTC)
        at = datetime.fromtimestamp(sighting.ended_at, UTC)
        group = rules.group_of(sighting.camera)
        blocked_persons, blocked_lists = rules.blocked_sets(group, at, now)

        def allowed(person: int, watchlist: int) -> bool:
            return person not in blocked_persons and watchlist not in blocked_lists

        decision = self._decide(sighting, allowed)
        matches = decision.matches_for(sighting) if decision is not None else []
        # with nothing blocked, the eligible ranking is the ranking under no rules
        unruled = decision if not (blocked_persons or blocked_lists) else None
        sighting.outcome = self._outcome(sighting, matches, unruled, blocked_persons, blocked_lists)
        if self.counters is not None:
            blocked: Counter[str] = Counter()
            if blocked_persons or blocked_lists:
                refused = self._decide(sighting, lambda p, w: not allowed(p, w))
                for m in refused.matches_for(sighting) if refused is not None else []:
                    blocked[blocked_persons.get(m.person_id) or blocked_lists[m.watchlist_id]] += 1
            self.counters.add(
                sighting.camera,
                sighting.ended_at,
                sightings=1,
                **{f"blocked_{reason}": n for reason, n in blocked.items()},
            )
        return matches

    def _outcome(
        self,
        sighting: Sighting,
        matches: list[Match],
        unruled: Decision | None,
        blocked_persons: dict[int, str],
        blocked_lists: dict[int, str],
    ) -> Outcome:
        """Why this sighting matched or not, judged on its best candidate under no rules.

        ``unruled`` is the decision already made when no rule blocked anything (the same
        ranking); otherwise the gallery is asked again, without the rules.
        """
        embedded = len(sighting.templates)
        if not embedded:
            return Outcome(0, None, None, "not embedded: no face of the track was embedded")
        if len(self.gallery) == 0:
            return Outcome(embedded, None, None, "nothing enrolled")
        if matches:
            best = max(matches, key=lambda m: m.score)
            return Outcome(embedded, round(best.score, 4), best.threshold, "matched")
        ranked = (unruled or decide(
            sighting.templates, self.gallery, self._thresholds, self.config.default_threshold,
            fusion=self.config.fusion, top_k=1, model=sighting.model,
        )).ranked  # fmt: skip
        if not ranked:
            return Outcome(embedded, None, None, "nothing enrolled")
        top = ranked[0]
        score, threshold = round(top.candidate.score, 4), top.threshold
        if not top.matched:
            return Outcome(embedded, score, threshold, "below threshold")
        block = blocked_persons.get(top.candidate.person_id) or blocked_lists.get(
            top.candidate.watchlist_id, "not_authorised"
        )
        return Outcome(embedded, score, threshold, BLOCK_REASONS.get(block, block))

    def archive_days(self, camera: str) -> int | None:
        """Days to keep this camera's unmatched sightings (None: archive mode is off)."""
        return self.rules.archive_days.get(self.rules.group_of(camera))

    def _decide(self, sighting: Sighting, eligible: Callable[[int, int], bool]) -> Decision | None:
        if len(self.gallery) == 0 or len(sighting.templates) == 0:
            return None
        return decide(
            sighting.templates,
            self.gallery,
            self._thresholds,
            self.config.default_threshold,
            fusion=self.config.fusion,
            top_k=self.config.top_k,
            eligible=eligible,
            model=sighting.model,
        )

    def _reload_rules(self) -> None:
        with self._lock, self.db.session(readonly=True) as session:
            self.rules = load_snapshot(session, self.rules.require_authorisation)
            self._rules_loaded = time.monotonic()


# (session, the sighting, its stored row, its stored match rows), inside the recording transaction
RecordHook = Callable[[Session, Sighting, models.Sighting, list[models.Match]], None]


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
    on_record: RecordHook | None = None,
) -> list[Recorded]:
    """Store matched sightings (crop, sighting, matches, audit) in one transaction.

    ``on_record`` runs in that transaction for each stored sighting, so that what follows
    from a match (an alert and the notifications it owes) commits with it or not at all.
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
    sealed_uri = seal_uri(camera_uri, db.cipher)  # a password in it is a secret at rest
    with media.transaction() as files, db.session() as session:
        cameras = {}
        for sighting, matches in pending:
            if sighting.camera not in cameras:
                cameras[sighting.camera] = repository.get_or_create_camera(
                    session, sighting.camera, sealed_uri, camera_group, analysis_fps
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
            if on_record is not None:
                on_record(session, sighting, row, match_rows)
            recorded.append(Recorded(int(row.id), [int(m.id) for m in match_rows]))
    return recorded


def record_archived(
    db: Database,
    media: MediaStore,
    camera_uri: str,
    sightings: Iterable[Sighting],
    archive_days: int,
    camera_group: str = "default",
    analysis_fps: float = 5.0,
) -> list[int]:
    """Keep unmatched sightings of a camera group in archive mode, until they expire.

    Crop, sighting row and templates (encrypted with the media store's key when one is set)
    are written in one transaction with an audit event, and expire ``archive_days`` from
    now; the retention job deletes them then. Returns the sighting ids. Call it only where
    ``Recogniser.archive_days`` says the camera's group archives: the default keeps nothing.
    """
    if archive_days <= 0:
        raise ValueError("archive mode is off (archive_days must be positive to keep sightings)")
    pending = list(sightings)
    if not pending:
        return []
    expires_at = datetime.now(UTC) + timedelta(days=archive_days)
    stored = []
    sealed_uri = seal_uri(camera_uri, db.cipher)  # a password in it is a secret at rest
    with media.transaction() as files, db.session() as session:
        cameras = {}
        for sighting in pending:
            if sighting.camera not in cameras:
                cameras[sighting.camera] = repository.get_or_create_camera(
                    session, sighting.camera, sealed_uri, camera_group, analysis_fps
                )
            camera = cameras[sighting.camera]
            crop_sha = files.put(encode_jpeg(sighting.best_crop), ".jpg")
            row = repository.save_sighting(session, camera, sighting, crop_sha)
            vectors = np.asarray(sighting.templates, dtype="<f4")
            policy_store.archive_sighting(
                session,
                row,
                camera.group,
                expires_at,
                sighting.model,
                [seal(media.cipher, v.tobytes(), TEMPLATE) for v in vectors],
                int(vectors.shape[1]) if vectors.ndim == 2 else 0,
            )
            stored.append(int(row.id))
        audit.record(
            session,
            actor=SYSTEM_ACTOR,
            action="sighting.archive",
            object_type="camera",
            object_id=",".join(sorted(cameras)),
            details={"sightings": len(stored), "expires_at": expires_at.isoformat()},
        )
    return stored
