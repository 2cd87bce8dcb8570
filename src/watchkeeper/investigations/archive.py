"""Searching archived sightings: what camera groups in archive mode kept, for a case only.

Archive mode (``policy.retention.set_archive``) keeps the unmatched sightings of a camera group
for a set number of days. A case may search them only where all of these hold: the group's
archive mode is on now, the sighting is within its retention, and it was seen inside the
case's time window on a camera inside its scope (by name, or by the group it was archived
under). A search may narrow the window and the cameras, never widen them: asking for more is
refused with the reason.

**The index.** :class:`ArchiveIndex` holds the archive's templates of one model in memory and
follows the store (it loads what was added, and everything after a purge), so a search
costs a filter over the rows and one exact inner-product scan of those left — the scan an
exact FAISS index (``IndexFlatIP``) does, without first copying 100,000 vectors into one: at
that size, building a :class:`~watchkeeper.matching.Gallery` per search took 10 times
longer than the search itself (docs/investigations.md). The API keeps one index per
process; the command line loads one per search. A sighting's score is the best over its
templates of the probes' fused score (``max``: the best pair, as live; ``mean``: the mean
over the probes). Hits at or above the case's threshold become candidates, keyed
``arc:<sighting>``, so that searching again adds nothing twice.

**Following the store cheaply.** Every search asks for the highest template id (one index
lookup) and loads the rows above the last it holds. Counting the rows, which is what notices
a deletion, scans the whole index (≈ 40 % of an audited search at 100,000 sightings), so it
is done at most every ``RECOUNT_S`` seconds. In between, a deleted sighting cannot become a
candidate: every hit is read back from the store before it is written, and one that is gone
is skipped. Expired sightings are filtered by their expiry at every search anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from watchkeeper.domain import FloatArray
from watchkeeper.investigations.cases import check_scope, check_searchable, check_window
from watchkeeper.investigations.errors import InvestigationError
from watchkeeper.matching import Fusion
from watchkeeper.policy import audit
from watchkeeper.store import Database
from watchkeeper.store import investigations as store
from watchkeeper.store import policy as policy_store
from watchkeeper.store.crypto import Cipher
from watchkeeper.store.investigations import ArchivedRows, CaseCandidate

RECOUNT_S = 30.0  # how often the index counts the store's rows to notice deletions


@dataclass(frozen=True, slots=True)
class ArchiveHit:
    sighting_id: int
    score: float
    probe_id: int


@dataclass(frozen=True, slots=True)
class Scope:
    """What one search may look at: a period, cameras (ids) or groups, groups whose archive
    mode is on, and the moment (for expiry)."""

    start: float
    end: float
    camera_ids: Sequence[int]
    groups: Sequence[str]
    archiving: Sequence[str]
    now: float


@dataclass(frozen=True, slots=True)
class ArchiveSearch:
    """What one search looked at and found."""

    templates: int  # archived templates inside scope, window and retention
    sightings: int
    hits: int
    new_candidates: int
    load_ms: float  # bringing the in-memory index up to date with the store
    search_ms: float  # filtering and scanning it


class ArchiveIndex:
    """The archive's templates of one model, in memory, kept in step with the store."""

    def __init__(self, model: str, cipher: Cipher | None = None) -> None:
        self.model = model
        self.cipher = cipher
        self.rows: ArchivedRows | None = None
        self._group_codes: dict[str, int] = {}
        self._groups = np.zeros(0, np.int64)
        self._single = True  # one template per sighting: no grouping needed when searching
        self._stamp = (0, 0)
        self._counted_at = -RECOUNT_S
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return 0 if self.rows is None else len(self.rows)

    def refresh(self, s: Session) -> None:
        """Load what the store added since the last refresh; reload all after a deletion
        (noticed within ``RECOUNT_S``)."""
        with self._lock:
            now = time.monotonic()
            if now - self._counted_at >= RECOUNT_S:
                stamp = store.archive_stamp(s, self.model)
                self._counted_at = now
            else:
                stamp = (-1, store.archive_highest(s, self.model))  # -1: not counted
            if stamp[1] == self._stamp[1] and stamp[0] in (-1, self._stamp[0]):
                return
            added = store.archived_rows(s, self.model, self._stamp[1], self.cipher)
            current = self.rows
            held = (len(current) if current is not None else 0) + len(added)
            if stamp[0] not in (-1, held):  # rows were deleted (purged): start again
                self.rows = store.archived_rows(s, self.model, 0, self.cipher)
            else:
                self.rows = added if current is None else _concat(current, added)
            codes = self._group_codes
            self._groups = np.array(
                [codes.setdefault(g, len(codes)) for g in self.rows.groups], np.int64
            )
            ids = self.rows.sighting_ids
            self._single = len(np.unique(ids)) == len(ids)
            self._stamp = (len(self.rows), stamp[1])

    def search(
        self,
        probe_ids: npt.NDArray[np.int64],
        probes: FloatArray,
        scope: Scope,
        threshold: float,
        *,
        fusion: Fusion = "max",
        limit: int = 100,
    ) -> tuple[list[ArchiveHit], int, int]:
        """(hits best first, templates searched, sightings searched)."""
        rows = self.rows
        if rows is None or not len(rows) or not len(probes):
            return [], 0, 0
        mask = (
            (rows.expires > scope.now)
            & (rows.started < scope.end)
            & (rows.ended >= scope.start)
            & self._of_groups(scope.archiving)
        )
        in_scope = self._of_groups(scope.groups)
        if len(scope.camera_ids):
            in_scope |= np.isin(rows.camera_ids, np.asarray(scope.camera_ids, np.int64))
        mask &= in_scope
        chosen = np.flatnonzero(mask)
        if not len(chosen):
            return [], 0, 0
        everything = len(chosen) == len(rows)  # no copy of the vectors then
        vectors = rows.vectors if everything else rows.vectors[chosen]
        unit = probes / np.linalg.norm(probes, axis=1, keepdims=True)
        similarity = vectors @ unit.T  # (N, P): exact inner products
        per_template = similarity.max(axis=1) if fusion == "max" else similarity.mean(axis=1)
        ids = rows.sighting_ids if everything else rows.sighting_ids[chosen]
        single = self._single  # one template per sighting: a template's score is its sighting's
        if single:
            sightings, first = ids, np.arange(len(ids))
            inverse = first
            best = per_template.astype(np.float32)
        else:
            sightings, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
            best = np.full(len(sightings), -np.inf, np.float32)
            np.maximum.at(best, inverse, per_template.astype(np.float32))
        above = np.flatnonzero(best >= threshold)
        order = above[np.argsort(-best[above], kind="stable")][:limit]
        hits = []
        for i in order:  # the probe behind each hit: of its sighting's best template
            members = first[i : i + 1] if single else np.flatnonzero(inverse == i)
            template = members[int(np.argmax(per_template[members]))]
            probe = int(probe_ids[int(np.argmax(similarity[template]))])
            hits.append(ArchiveHit(int(sightings[i]), float(best[i]), probe))
        return hits, len(chosen), len(sightings)

    def _of_groups(self, groups: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Which rows were archived under one of ``groups`` (a lookup per row, no search)."""
        wanted = np.zeros(len(self._group_codes) + 1, bool)
        for group in groups:
            if group in self._group_codes:
                wanted[self._group_codes[group]] = True
        return wanted[self._groups]


def _concat(a: ArchivedRows, b: ArchivedRows) -> ArchivedRows:
    if not len(b):
        return a
    return ArchivedRows(
        template_ids=np.concatenate([a.template_ids, b.template_ids]),
        sighting_ids=np.concatenate([a.sighting_ids, b.sighting_ids]),
        camera_ids=np.concatenate([a.camera_ids, b.camera_ids]),
        groups=a.groups + b.groups,
        started=np.concatenate([a.started, b.started]),
        ended=np.concatenate([a.ended, b.ended]),
        expires=np.concatenate([a.expires, b.expires]),
        vectors=np.vstack([a.vectors, b.vectors]) if len(a) else b.vectors,
    )


def search_archive(
    db: Database,
    case_id: int | str,
    actor: str,
    model: str,
    *,
    cipher: Cipher | None = None,
    index: ArchiveIndex | None = None,
    cameras: Sequence[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    fusion: Fusion = "max",
    limit: int = 100,
) -> ArchiveSearch:
    """Search the archive for the case's subject; store hits as candidates (audited).

    ``index`` is a long-lived :class:`ArchiveIndex` of ``model`` to reuse (one is loaded for
    this search otherwise).
    """
    now = datetime.now(UTC)
    index = ArchiveIndex(model, cipher) if index is None else index
    with db.session() as s:
        case = store.get_case(s, case_id)
        check_searchable(case, now)
        for camera in cameras:
            check_scope(case, camera, store.camera_group_of(s, camera))
        if start is not None or end is not None:
            check_window(case, start or case.window_start, end or case.window_end)
        low = max(start or case.window_start, case.window_start)
        high = min(end or case.window_end, case.window_end)
        if high <= low:
            raise InvestigationError(f"the period {low} – {high} is empty")
        probe_ids, probes = store.probe_templates(s, case.id, model, cipher)
        if not len(probe_ids):
            raise InvestigationError(
                f"case {case.reference} has no probe photo of model {model}: add one first"
            )
        started = time.perf_counter()
        index.refresh(s)
        loaded = time.perf_counter()
        scope = Scope(
            low.timestamp(), high.timestamp(),
            store.camera_ids(s, cameras or case.cameras), [] if cameras else case.camera_groups,
            list(policy_store.archive_days(s)), now.timestamp(),
        )  # fmt: skip
        hits, templates, sightings = index.search(
            probe_ids, probes, scope, case.threshold, fusion=fusion, limit=limit
        )
        searched = time.perf_counter()
        infos = store.archived_sightings(s, [h.sighting_id for h in hits])
        added = store.add_candidates(
            s,
            [
                _candidate(case.id, case.threshold, hit, infos[hit.sighting_id])
                for hit in hits
                if hit.sighting_id in infos  # deleted since the index last counted: skipped
            ],
        )
        result = ArchiveSearch(
            templates, sightings, len(hits), added,
            1000 * (loaded - started), 1000 * (searched - loaded),
        )  # fmt: skip
        audit.record(
            s,
            actor=actor,
            action="case.search.archive",
            object_type="case",
            object_id=case.id,
            details={
                "reference": case.reference,
                "from": low.isoformat(),
                "to": high.isoformat(),
                "cameras": list(cameras or case.cameras),
                "groups": list(scope.groups),
                "sightings_searched": sightings,
                "hits": len(hits),
                "new_candidates": added,
            },
        )
    return result


def _candidate(
    case_id: int, threshold: float, hit: ArchiveHit, info: store.ArchivedSightingInfo
) -> CaseCandidate:
    sighting = info.sighting
    return CaseCandidate(
        case_id=case_id,
        key=f"arc:{hit.sighting_id}",
        kind="archive",
        sighting_id=hit.sighting_id,
        camera=info.camera,
        track_id=sighting.track_id,
        first_frame=sighting.first_frame,
        last_frame=sighting.last_frame,
        best_frame=sighting.best_frame,
        detections=sighting.detections,
        started_at=sighting.started_at,
        ended_at=sighting.ended_at,
        score=hit.score,
        threshold=threshold,
        probe_id=hit.probe_id,
        model=sighting.model,
        crop_sha256=sighting.crop_sha256,
        box=[],
        quality=sighting.quality,
    )
