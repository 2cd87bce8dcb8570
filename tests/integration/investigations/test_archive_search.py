"""Searching archived sightings: only archive-mode groups, within retention, window and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from case_kit import CLIP_START, REQUESTER, open_case
from sqlalchemy import select

from watchkeeper.domain import Sighting
from watchkeeper.investigations import archive
from watchkeeper.policy import audit, retention
from watchkeeper.recognition import record_archived
from watchkeeper.store import investigations as store
from watchkeeper.store.models import AuditEvent
from watchkeeper.store.models import Sighting as SightingRow
from watchkeeper.store.policy import ArchivedSighting


def _sighting(camera: str, track: int, at: datetime, vector: np.ndarray, model: str) -> Sighting:
    crop = np.random.default_rng(track).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    return Sighting(
        camera=camera, track_id=track, started_at=at.timestamp(), ended_at=at.timestamp() + 2,
        first_frame=10 * track, last_frame=10 * track + 9, detections=5, best_frame=10 * track + 4,
        best_box=np.array([10, 10, 58, 74], np.float32), best_crop=crop, best_quality=0.8,
        templates=vector.reshape(1, -1).astype(np.float32), model=model,
    )  # fmt: skip


def _near(probe: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    vector = probe + noise * rng.standard_normal(probe.shape)
    return vector / np.linalg.norm(vector)


def test_only_archived_sightings_the_case_may_see_are_searched(ctx, probe_jpeg):
    case_id = open_case(ctx, cameras=(), groups=("station", "mall"), probe=probe_jpeg)
    model = ctx.analyzer.model
    with ctx.db.session(readonly=True) as s:
        _, probes = store.probe_templates(s, case_id, model)
    probe, rng = probes[0], np.random.default_rng(7)
    for group in ("station", "mall", "other"):
        retention.set_archive(ctx.db, group, 30, "user:admin", "test")

    def keep(camera: str, group: str, sightings: list[Sighting]) -> list[int]:
        return record_archived(ctx.db, ctx.media, f"rtsp://{camera}", sightings, 30, group)

    subject_at = CLIP_START + timedelta(minutes=5)
    (wanted,) = keep(
        "cam-a", "station", [_sighting("cam-a", 1, subject_at, _near(probe, rng, 0.02), model)]
    )
    keep("cam-a", "station", [_sighting("cam-a", 2, CLIP_START - timedelta(hours=3), probe, model)])
    (expired,) = keep("cam-b", "station", [_sighting("cam-b", 3, subject_at, probe, model)])
    keep("cam-m", "mall", [_sighting("cam-m", 4, subject_at, probe, model)])
    keep("cam-x", "other", [_sighting("cam-x", 5, subject_at, probe, model)])
    strangers = [
        _sighting(
            "cam-a", 100 + i, subject_at, _near(rng.standard_normal(probe.shape), rng, 0), model
        )
        for i in range(200)
    ]
    keep("cam-a", "station", strangers)
    retention.set_archive(ctx.db, "mall", None, "user:admin", "archive mode off")
    with ctx.db.session() as s:
        s.get(ArchivedSighting, expired).expires_at = datetime.now(UTC) - timedelta(seconds=1)

    found = archive.search_archive(ctx.db, case_id, REQUESTER, model)
    assert (found.sightings, found.hits, found.new_candidates) == (201, 1, 1)
    with ctx.db.session(readonly=True) as s:
        (candidate,) = store.candidates_of(s, case_id)
    assert (candidate.sighting_id, candidate.camera, candidate.kind) == (wanted, "cam-a", "archive")
    assert candidate.score > 0.9 and candidate.best_frame == 14

    again = archive.search_archive(ctx.db, case_id, REQUESTER, model)
    assert (again.hits, again.new_candidates) == (1, 0)
    narrowed = archive.search_archive(ctx.db, case_id, REQUESTER, model, cameras=["cam-b"])
    assert (narrowed.sightings, narrowed.hits) == (0, 0)

    # The archive expires; the evidence of the case does not go with it.
    retention.purge(ctx.db, ctx.media, grace_days=0, now=datetime.now(UTC) + timedelta(days=60))
    with ctx.db.session(readonly=True) as s:
        (kept,) = store.candidates_of(s, case_id)
        assert (
            s.scalar(
                select(ArchivedSighting.sighting_id).where(ArchivedSighting.sighting_id == wanted)
            )
            is None
        )
        assert audit.verify(s).ok
        searches = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.search.archive"))
        assert len(list(searches)) == 3
    assert kept.crop_sha256 is not None and ctx.media.exists(kept.crop_sha256)


def test_a_long_lived_index_follows_additions_at_once_and_deletions_safely(
    ctx, probe_jpeg, monkeypatch
):
    case_id = open_case(ctx, cameras=(), groups=("station",), probe=probe_jpeg)
    model = ctx.analyzer.model
    with ctx.db.session(readonly=True) as s:
        _, probes = store.probe_templates(s, case_id, model)
    probe, rng = probes[0], np.random.default_rng(3)
    retention.set_archive(ctx.db, "station", 30, "user:admin", "test")
    at = CLIP_START + timedelta(minutes=5)

    def keep(track: int, vector: np.ndarray) -> int:
        (kept,) = record_archived(
            ctx.db, ctx.media, "rtsp://cam-a", [_sighting("cam-a", track, at, vector, model)],
            30, "station",
        )  # fmt: skip
        return kept

    keep(1, _near(rng.standard_normal(probe.shape), rng, 0))
    index = archive.ArchiveIndex(model)
    assert archive.search_archive(ctx.db, case_id, REQUESTER, model, index=index).hits == 0
    subject = keep(2, _near(probe, rng, 0.02))  # added after the index was loaded
    gone = keep(3, _near(probe, rng, 0.02))
    later = CLIP_START + timedelta(minutes=30)  # a narrower period: loads, finds nothing
    assert (
        archive.search_archive(ctx.db, case_id, REQUESTER, model, index=index, start=later).hits
        == 0
    )
    assert len(index) == 3
    with ctx.db.session() as s:  # deleted before the index counts again: not a candidate
        s.delete(s.get(SightingRow, gone))
    found = archive.search_archive(ctx.db, case_id, REQUESTER, model, index=index)
    assert (found.hits, found.new_candidates) == (2, 1)
    with ctx.db.session(readonly=True) as s:
        assert [c.sighting_id for c in store.candidates_of(s, case_id)] == [subject]
    monkeypatch.setattr(archive, "RECOUNT_S", 0.0)  # the next search counts: reloads all
    assert archive.search_archive(ctx.db, case_id, REQUESTER, model, index=index).hits == 1
    assert len(index) == 2
