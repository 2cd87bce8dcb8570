"""Scanning the 1080p clip as a recording: the subject found, nobody else kept, all audited."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from case_kit import APPROVER, REQUESTER, open_case, recording
from sqlalchemy import select

from watchkeeper.demo import CLIP, PROBE_FRAME
from watchkeeper.investigations import cases, export, results, scan
from watchkeeper.policy import approvals, audit
from watchkeeper.store import investigations as store
from watchkeeper.store import repository
from watchkeeper.store.models import AuditEvent


def _scan(ctx, case_id, *paths: Path, progress=None) -> scan.ScanReport:
    request = scan.ScanRequest(case_id, list(paths), workers=1)
    return scan.run_scan(ctx, request, progress, analyzer=ctx.analyzer)


def _actions(ctx) -> list[str]:
    with ctx.db.session(readonly=True) as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_the_subject_is_found_at_the_right_frames_ranked_first_and_nobody_else_is_kept(
    ctx, probe_jpeg, tmp_path
):
    case_id = open_case(ctx, probe=probe_jpeg)
    report = _scan(ctx, case_id, recording(tmp_path / "rec"))
    (done,) = report.files
    assert (done.state, done.frames_analysed) == ("done", 21)  # 4.2 s at 5 frames/s
    with ctx.db.session() as s:
        found = results.ranked(s, case_id)
        counts = repository.counts(s)
        threshold = store.get_case(s, case_id).threshold
    first = found[0]
    assert first["first_frame"] <= PROBE_FRAME <= first["last_frame"]  # the probe's own track
    assert first["score"] > 0.6 and all(c["score"] >= threshold for c in found)
    assert 1 <= len(found) <= 3  # the subject (whose track may split), nobody of the crowd
    assert [c["rank"] for c in found] == list(range(1, len(found) + 1))
    assert (
        sorted(c["score"] for c in found) == sorted((c["score"] for c in found), reverse=True)[::-1]
    )
    # No passer-by's face, crop or template anywhere: no sighting rows, only the candidates'
    # crops and the probe photo among the media files.
    assert counts["sightings"] == counts["sighting_templates"] == counts["matches"] == 0
    assert counts["case_candidates"] == len(found) and counts["case_probes"] == 1
    crops = {c["crop_sha256"] for c in found}
    with ctx.db.session() as s:
        (probe,) = store.probes_of(s, case_id)
    assert set(ctx.media.shas()) == crops | {probe.media_sha256}
    timeline = results.timeline(found)
    assert list(timeline) == ["arcade"] and len(timeline["arcade"]) == len(found)


def test_a_scan_is_audited_and_a_second_scan_neither_rereads_nor_duplicates(
    ctx, probe_jpeg, tmp_path
):
    case_id = open_case(ctx, probe=probe_jpeg)
    video = recording(tmp_path / "rec")
    first = _scan(ctx, case_id, video)
    with ctx.db.session(readonly=True) as s:
        before = [(c.key, c.score) for c in store.candidates_of(s, case_id)]
        (source,) = store.sources_of(s, case_id)
    assert source.sha256 == hashlib.sha256(CLIP.read_bytes()).hexdigest()
    again = _scan(ctx, case_id, video.parent)
    (file,) = again.files
    assert (file.state, file.frames_analysed) == ("already done", 0)
    assert again.candidates == first.candidates == len(before)
    with ctx.db.session(readonly=True) as s:
        assert [(c.key, c.score) for c in store.candidates_of(s, case_id)] == before
        assert store.get_source(s, source.id).updated_at == source.updated_at
        assert audit.verify(s).ok
    actions = _actions(ctx)
    assert actions.count("case.scan") == 2 and actions.count("case.scan.file") == 1


def test_closing_the_case_stops_a_running_scan_at_the_next_frame(ctx, probe_jpeg, tmp_path):
    case_id = open_case(ctx, probe=probe_jpeg)
    analysed: list[int] = []

    class CloseAfterTwoFrames:
        def planned(self, files: list[tuple[int, str, int]]) -> None:
            pass

        def advanced(self, source_id: int, frame: int) -> None:
            analysed.append(frame)
            if len(analysed) == 2:  # another user closes the case meanwhile
                with ctx.db.session() as s:
                    cases.close_case(s, case_id, APPROVER, "person found")

        def finished(self, report: scan.FileReport) -> None:
            pass

    report = _scan(ctx, case_id, recording(tmp_path / "rec"), progress=CloseAfterTwoFrames())
    assert report.stopped is not None and "was closed" in report.stopped
    (file,) = report.files
    assert (file.state, file.frames_analysed) == ("stopped", 2)
    assert len(analysed) == 2


def test_corrupt_and_truncated_recordings_are_reported_and_the_scan_goes_on(
    ctx, probe_jpeg, tmp_path
):
    folder = tmp_path / "mixed"
    good = recording(folder, camera="arcade")
    data = CLIP.read_bytes()
    truncated = folder / "arcade-b_20251128-143000.mp4"
    truncated.write_bytes(data[: len(data) * 2 // 5])
    garbage = folder / "arcade-c_20251128-143000.mp4"
    garbage.write_bytes(bytes(range(256)) * 64)
    empty = folder / "arcade-d_20251128-143000.mkv"
    empty.touch()
    (folder / "notes.txt").write_text("shift notes")
    (folder / "still.jpg").write_bytes(probe_jpeg)
    case_id = open_case(
        ctx, cameras=("arcade", "arcade-b", "arcade-c", "arcade-d"), probe=probe_jpeg
    )
    report = _scan(ctx, case_id, folder)
    states = {Path(f.path).name: (f.state, f.reason or "") for f in report.files}
    assert states[good.name][0] == "done"
    assert states[truncated.name][0] == "failed"
    assert "truncated" in states[truncated.name][1] or "cannot be read" in states[truncated.name][1]
    assert states[garbage.name][0] == "failed" and "not a video" in states[garbage.name][1]
    assert states[empty.name] == ("failed", f"{empty}: the file is empty (0 bytes)")
    assert states["notes.txt"] == ("skipped", "not a video recording (file type)")
    assert states["still.jpg"] == ("skipped", "not a video recording (file type)")
    assert report.candidates >= 1


def test_evidence_is_exported_once_under_a_second_persons_approval(ctx, probe_jpeg, tmp_path):
    case_id = open_case(ctx, probe=probe_jpeg)
    _scan(ctx, case_id, recording(tmp_path / "rec"))
    with ctx.db.session() as s:
        found = results.ranked(s, case_id)
        results.review_candidate(s, case_id, found[0]["id"], "is_person", REQUESTER)
        approval_id = export.request_export(s, case_id, REQUESTER, "for the family liaison").id
    out = tmp_path / "evidence"

    def collect():
        return export.export_evidence(
            ctx.db, ctx.media, case_id, approval_id, REQUESTER, fusion="max",
            deliver=lambda e: export.write_folder(e, out),
        )  # fmt: skip

    with pytest.raises(approvals.ApprovalError, match="is pending: a supervisor must approve"):
        collect()
    with ctx.db.session() as s, pytest.raises(approvals.ApprovalForbidden, match="cannot approve"):
        approvals.approve(s, approval_id, REQUESTER, "supervisor")
    with ctx.db.session() as s:
        approvals.approve(s, approval_id, APPROVER, "supervisor")
    evidence = collect()
    document = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    assert document == json.loads(json.dumps(evidence.document))
    (source,) = document["recordings"]
    assert source["sha256"] == hashlib.sha256(CLIP.read_bytes()).hexdigest()
    assert source["start_time_from"] == "file name" and source["sampled_fps"] == 5.0
    assert document["matching"]["models"] == [ctx.analyzer.model]
    assert document["matching"]["threshold"] == ctx.settings.matching.default_threshold
    best = document["candidates"][0]
    assert best["first_frame"] <= PROBE_FRAME <= best["last_frame"]
    assert best["review"] == "is_person"
    assert (out / "crops" / f"{best['crop_sha256']}.jpg").is_file()
    page = (out / "evidence.html").read_text(encoding="utf-8")
    assert "<script" not in page and "data:image/jpeg;base64," in page
    assert source["sha256"] in page
    with pytest.raises(approvals.ApprovalError, match="was already used"):
        collect()
    with ctx.db.session() as s:
        assert audit.verify(s).ok
        performed = s.scalar(select(AuditEvent).where(AuditEvent.action == "export.perform"))
        assert performed is not None and performed.object_id == str(case_id)
        digest = json.loads(performed.details or "{}")["sha256"]["evidence.json"]
    assert digest == hashlib.sha256((out / "evidence.json").read_bytes()).hexdigest()
    actions = _actions(ctx)
    for action in ("case.scan", "case.scan.file", "case.candidate.review", "approval.request",
                   "approval.approve", "export.perform"):  # fmt: skip
        assert action in actions
