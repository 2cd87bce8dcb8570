"""Analysing one source (a file, a folder of images, a stream) against every watchlist.

``process_source`` runs the source through the same pipeline, recogniser and stores as a live
camera: matched sightings are stored (for a file, at the end, in one go), unmatched ones are
discarded unless the camera group's retention policy archives them. ``cannot_match`` says
before any frame is read which watchlists cannot match on this source and why (decision
0004: "not matched, because …"), so that a table of "—" never leaves a user guessing.
``results_json`` is the result as plain values; ``watchkeeper run`` and the demo print it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from watchkeeper.context import AppContext
from watchkeeper.domain import Frame, Match, Sighting
from watchkeeper.pipeline import CameraPipeline, CameraWorker, motion_gated
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.policy.eligibility import load_snapshot
from watchkeeper.recognition import Recogniser, record_archived, record_matches
from watchkeeper.store import repository
from watchkeeper.streams import open_configured_source

Results = list[tuple[Sighting, list[Match]]]
FrameProgress = Callable[[int | None], Callable[[Frame], None]]


def process_source(
    app_ctx: AppContext,
    uri: str,
    camera: str,
    analysis_fps: float,
    store: bool,
    progress: FrameProgress | None = None,
) -> tuple[Results, CameraPipeline]:
    """Run one source through the pipeline; store matched sightings (files: at the end).

    ``progress``, given the expected number of frames (None for a stream), returns the
    function to call after each analysed frame (a progress bar, for people).
    """
    settings = app_ctx.settings
    source = open_configured_source(uri, camera, analysis_fps, settings.streams)
    analyzer = app_ctx.analyzer
    counters = ActivityCounters(app_ctx.db)
    recogniser = Recogniser(
        app_ctx.db, settings.matching, analyzer.model, analyzer.embedder.dimension,
        policy=settings.policy, cipher=app_ctx.cipher, counters=counters,
    )  # fmt: skip
    pipeline = CameraPipeline(
        camera,
        motion_gated(analyzer, settings.motion, analysis_fps),
        settings.tracking,
        settings.vision.min_quality,
        recogniser.screen,
    )
    results: Results = []
    live = getattr(source, "live", False)
    archive = recogniser.archive_days(camera) if store else None

    def sink(sighting: Sighting, matches: list[Match]) -> None:
        if live and store and matches:
            record_matches(app_ctx.db, app_ctx.media, uri, [(sighting, matches)])
        elif live and archive and not matches:
            record_archived(app_ctx.db, app_ctx.media, uri, [sighting], archive)
        results.append((sighting, matches))

    on_frame = progress(getattr(source, "expected_frames", None)) if progress else None
    hook = counters.frame_hook(pipeline, then=on_frame)
    CameraWorker(source, pipeline, recogniser.match, sink, on_frame=hook).run()
    if store and not live:
        record_matches(app_ctx.db, app_ctx.media, uri, [(s, m) for s, m in results if m])
        if archive:
            unmatched = [s for s, m in results if not m]
            record_archived(app_ctx.db, app_ctx.media, uri, unmatched, archive)
    counters.flush()
    return results, pipeline


def cannot_match(
    app_ctx: AppContext, camera: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One item per watchlist that cannot match (or not fully) on this camera now, with why.

    Each item: ``watchlist``, ``reason`` (``not_authorised``, ``review_overdue``,
    ``no_entries``, ``entries_blocked``), ``matchable`` (entries that can match: 0 means the
    list cannot match at all), ``blocked`` (entries by reason) and ``message``, a sentence
    that also says what to do.
    """
    now = now or datetime.now(UTC)
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    with app_ctx.db.session(readonly=True) as s:
        snapshot = load_snapshot(s, app_ctx.settings.policy.require_authorisation)
        group = snapshot.group_of(camera)
        entries: dict[int, list[int]] = {wl_id: [] for wl_id in snapshot.watchlist_names}
        for person in repository.list_persons(s):
            entries.setdefault(person.watchlist_id, []).append(person.id)
    lines = []
    for wl_id, name in sorted(snapshot.watchlist_names.items(), key=lambda kv: kv[1]):
        persons = entries.get(wl_id, [])
        blocked: dict[str, int] = {}
        for person_id in persons:
            reason = snapshot.person_block(person_id, now)
            if reason is not None:
                blocked[reason] = blocked.get(reason, 0) + 1
        matchable = len(persons) - sum(blocked.values())
        list_block = snapshot.watchlist_block(wl_id, group, now, now)
        item: dict[str, Any] = {
            "watchlist": name, "group": group, "entries": len(persons),
            "matchable": 0 if list_block else matchable, "blocked": blocked,
        }  # fmt: skip
        if list_block == "not_authorised":
            item["reason"] = list_block
            item["message"] = (
                f"watchlist {name} cannot match: no authorised deployment for camera group "
                f"{group} at {when} (watchkeeper deployment add --watchlist {name} "
                f"--group {group} --from … --to … --authorised-by … --ref …)"
            )
        elif list_block == "review_overdue":
            review = snapshot.review_by[wl_id].strftime("%Y-%m-%d")
            item["reason"] = list_block
            item["message"] = (
                f"watchlist {name} cannot match: its review was due on {review} "
                f"(watchkeeper watchlist review {name} --next-review DATE --reason TEXT)"
            )
        elif not persons:
            item["reason"] = "no_entries"
            item["message"] = f"watchlist {name} cannot match: it has no entries"
        elif blocked:
            item["reason"] = "entries_blocked"
            scope = "cannot match" if matchable == 0 else f"matches {matchable} of {len(persons)}"
            item["message"] = f"watchlist {name} {scope}: " + "; ".join(
                _blocked_words(reason, count) for reason, count in sorted(blocked.items())
            )
        else:
            continue
        if list_block and not persons:  # say it all at once, not one obstacle per run
            item["message"] += "; also it has no entries"
        elif list_block and blocked:
            item["message"] += "; also " + "; ".join(
                _blocked_words(reason, count) for reason, count in sorted(blocked.items())
            )
        lines.append(item)
    return lines


def _blocked_words(reason: str, count: int) -> str:
    entries = f"{count} entr{'y' if count == 1 else 'ies'}"
    if reason == "pending_approval":
        return f"{entries} pending approval (watchkeeper approval list --state pending)"
    if reason == "expired":
        return f"{entries} expired"
    return f"{entries} {reason.replace('_', ' ')}"


def _names(app_ctx: AppContext, results: Results) -> dict[int, tuple[str, str]]:
    person_ids = {m.person_id for _, matches in results for m in matches}
    if not person_ids:
        return {}
    with app_ctx.db.session() as session:
        return {
            pid: (person.name, person.watchlist.name)
            for pid in person_ids
            for person in [repository.get_person(session, pid)]
        }


def outcome_json(sighting: Sighting) -> dict[str, Any]:
    """Why the track matched or not (numbers and a reason: nothing of the face itself)."""
    outcome = sighting.outcome
    return {
        "embedded": len(sighting.templates),
        "best_score": outcome.best_score if outcome else None,
        "outcome": outcome.reason if outcome else None,
    }


def results_json(app_ctx: AppContext, results: Results, pipeline: CameraPipeline) -> dict[str, Any]:
    """The analysis as plain values: counts, and each sighting with its matches."""
    names = _names(app_ctx, results)
    stats = pipeline.stats
    return {
        "camera": pipeline.camera,
        "frames_analysed": stats.frames,
        "faces_detected": stats.faces,
        "sightings": [
            {
                "track": s.track_id,
                "first_frame": s.first_frame,
                "last_frame": s.last_frame,
                "best_frame": s.best_frame,
                "detections": s.detections,
                "started_at": datetime.fromtimestamp(s.started_at, UTC).isoformat(),
                "ended_at": datetime.fromtimestamp(s.ended_at, UTC).isoformat(),
                "quality": round(s.best_quality, 3),
                **outcome_json(s),
                "matches": [
                    {
                        "person_id": m.person_id,
                        "person": names[m.person_id][0],
                        "watchlist": names[m.person_id][1],
                        "score": round(m.score, 4),
                        "threshold": m.threshold,
                    }
                    for m in matches
                ],
            }
            for s, matches in sorted(results, key=lambda r: (r[0].first_frame, r[0].track_id))
        ],
    }
