"""The rules that make a search lawful: four eyes, expiry, closing, window, scope, probes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from case_kit import APPROVER, CLIP_START, REQUESTER, add_probe, open_case, recording
from sqlalchemy import select

from watchkeeper.enrolment import EnrolmentError
from watchkeeper.investigations import archive, cases, scan
from watchkeeper.investigations.errors import CaseForbidden, CaseRefused, InvestigationError
from watchkeeper.policy import audit
from watchkeeper.store import NotFound, repository
from watchkeeper.store import investigations as store
from watchkeeper.store.models import AuditEvent
from watchkeeper.vision.imageio import ImageError

PHOTOS = Path(__file__).parents[3] / "examples" / "data"


def _scan(ctx, case_id, *paths: Path) -> scan.ScanReport:
    request = scan.ScanRequest(case_id, list(paths), workers=1)
    return scan.run_scan(ctx, request, analyzer=ctx.analyzer)


def test_the_requester_cannot_approve_their_own_case_nor_can_a_non_supervisor(ctx):
    case_id = open_case(ctx, approve=False)
    with ctx.db.session() as s, pytest.raises(CaseForbidden, match="ivan requested case MP-1"):
        cases.approve_case(s, case_id, "cli:ivan", "supervisor")  # same person, other channel
    with ctx.db.session() as s, pytest.raises(CaseForbidden, match="needs the supervisor role"):
        cases.approve_case(s, case_id, "user:olga", "operator")
    with ctx.db.session() as s:
        assert store.get_case(s, case_id).state(datetime.now(UTC)) == "pending"
        cases.approve_case(s, case_id, APPROVER, "supervisor", "warrant checked")
    with ctx.db.session() as s:
        case = store.get_case(s, case_id)
        assert (case.state(datetime.now(UTC)), case.approved_by) == ("active", APPROVER)
        with pytest.raises(InvestigationError, match="only a pending case can be approved"):
            cases.approve_case(s, case_id, "user:tom", "supervisor")


def test_a_case_without_approval_searches_nothing(ctx, probe_jpeg, tmp_path):
    case_id = open_case(ctx, approve=False, probe=probe_jpeg)
    video = recording(tmp_path / "rec")
    with pytest.raises(CaseRefused, match="not approved yet: a supervisor other than ivan"):
        _scan(ctx, case_id, video)
    with pytest.raises(CaseRefused, match="not approved yet"):
        archive.search_archive(ctx.db, case_id, REQUESTER, ctx.analyzer.model)
    with ctx.db.session() as s:
        assert store.sources_of(s, case_id) == []  # not even planned


def test_an_expired_or_closed_case_searches_nothing(ctx, probe_jpeg, tmp_path):
    expired = open_case(ctx, "MP-old", probe=probe_jpeg)
    with ctx.db.session() as s:  # the authority ran out (set in the past directly)
        store.get_case(s, expired).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    video = recording(tmp_path / "rec")
    with pytest.raises(CaseRefused, match="MP-old expired at"):
        _scan(ctx, expired, video)
    closed = open_case(ctx, "MP-closed", probe=probe_jpeg)
    with ctx.db.session() as s:
        cases.close_case(s, closed, REQUESTER, "person found")
    with pytest.raises(CaseRefused, match=r"MP-closed was closed at .* by ivan"):
        archive.search_archive(ctx.db, closed, REQUESTER, ctx.analyzer.model)


def test_a_recording_outside_the_window_or_the_scope_is_refused_with_the_reason(
    ctx, probe_jpeg, tmp_path
):
    case_id = open_case(ctx, probe=probe_jpeg)
    late = recording(tmp_path / "late", start=CLIP_START + timedelta(hours=5))
    with pytest.raises(CaseRefused, match="outside the time window of case MP-1"):
        _scan(ctx, case_id, late)
    elsewhere = recording(tmp_path / "elsewhere", camera="platform-9")
    with pytest.raises(CaseRefused, match="camera platform-9 is outside the camera scope"):
        _scan(ctx, case_id, elsewhere)
    with pytest.raises(CaseRefused, match="camera platform-9 is outside the camera scope"):
        archive.search_archive(
            ctx.db, case_id, REQUESTER, ctx.analyzer.model, cameras=["platform-9"]
        )
    with pytest.raises(CaseRefused, match="outside the time window"):
        archive.search_archive(
            ctx.db, case_id, REQUESTER, ctx.analyzer.model,
            start=CLIP_START - timedelta(days=2), end=CLIP_START - timedelta(days=1),
        )  # fmt: skip
    with ctx.db.session() as s:
        states = {src.path: src.state for src in store.sources_of(s, case_id)}
        assert store.count_candidates(s, case_id) == 0
    assert states == {str(late): "refused", str(elsewhere): "refused"}


def test_a_camera_group_in_scope_admits_its_cameras(ctx, probe_jpeg, tmp_path):
    case_id = open_case(ctx, cameras=(), groups=("station",), probe=probe_jpeg)
    with ctx.db.session() as s:
        repository.get_or_create_camera(s, "arcade", "rtsp://arcade", "station")
        case = store.get_case(s, case_id)
        cases.check_scope(case, "arcade", store.camera_group_of(s, "arcade"))
        with pytest.raises(CaseRefused, match=r"camera lobby \(group default\) is outside"):
            cases.check_scope(case, "lobby", "default")


def test_a_recording_without_a_known_start_is_not_scanned(ctx, probe_jpeg, tmp_path):
    case_id = open_case(ctx, probe=probe_jpeg)
    anonymous = tmp_path / "rec" / "clip.mp4"
    anonymous.parent.mkdir()
    anonymous.symlink_to(recording(tmp_path / "src"))
    (only,) = _scan(ctx, case_id, anonymous).files
    assert only.state == "failed" and "its start time is unknown" in (only.reason or "")


def test_a_case_needs_a_window_a_scope_a_legal_basis_and_a_bounded_expiry(ctx):
    now = datetime.now(UTC)
    good = cases.CaseRequest(
        "R-1", "wanted_person", "warrant 12/25", now - timedelta(days=1), now,
        now + timedelta(days=1), ["gate"],
    )  # fmt: skip
    limits = {"default_threshold": 0.363, "max_days": 90}
    bad = [
        (replace(good, window_end=good.window_start), "must end after"),
        (replace(good, cameras=[]), "needs a camera scope"),
        (replace(good, legal_basis=" "), "needs its legal basis"),
        (replace(good, purpose="curiosity"), "is not one of"),
        (replace(good, expires_at=now + timedelta(days=400)), "at most 90 days"),
    ]
    for request, message in bad:
        with ctx.db.session() as s, pytest.raises(InvestigationError, match=message):
            cases.open_case(s, request, REQUESTER, **limits)
    with ctx.db.session() as s:
        assert store.list_cases(s) == []
        cases.open_case(s, good, REQUESTER, **limits)


def test_an_unknown_case_is_a_clear_not_found(ctx, tmp_path):
    with pytest.raises(NotFound, match="case 42 does not exist"):
        _scan(ctx, 42, tmp_path)
    with pytest.raises(NotFound, match="case MP-404 does not exist"):
        archive.search_archive(ctx.db, "MP-404", REQUESTER, ctx.analyzer.model)


def test_probes_with_no_face_or_two_faces_are_refused_and_nothing_is_stored(ctx, tmp_path):
    case_id = open_case(ctx)
    blank = cv2.imencode(".jpg", np.full((400, 300, 3), 128, np.uint8))[1].tobytes()
    with pytest.raises(EnrolmentError, match=r"wall\.jpg: no face found"):
        add_probe(ctx, case_id, blank, "wall.jpg")
    couple = (PHOTOS / "deepface-pairs" / "couple.jpg").read_bytes()
    with pytest.raises(EnrolmentError, match=r"couple\.jpg: 2 faces found"):
        add_probe(ctx, case_id, couple, "couple.jpg")
    corrupt = (PHOTOS / "facenet-pytorch" / "test_images" / "bradley_cooper" / "1.jpg").read_bytes()
    with pytest.raises(ImageError, match=r"1\.jpg"):
        add_probe(ctx, case_id, corrupt, "1.jpg")
    with ctx.db.session() as s:
        assert store.probes_of(s, case_id) == []
    assert ctx.media.shas() == []


def test_a_probe_is_purged_with_its_case_and_the_purge_is_audited(ctx, probe_jpeg):
    case_id = open_case(ctx, probe=probe_jpeg)
    assert len(ctx.media.shas()) == 1
    with pytest.raises(InvestigationError, match="close it before purging"):
        cases.purge_case(ctx.db, ctx.media, case_id, APPROVER, "done")
    with ctx.db.session() as s:
        cases.close_case(s, case_id, REQUESTER, "person found safe")
    assert cases.purge_case(ctx.db, ctx.media, case_id, APPROVER, "case closed") == 1
    assert ctx.media.shas() == []
    with ctx.db.session() as s:
        counts = repository.counts(s)
        assert counts["cases"] == counts["case_probes"] == 0
        assert audit.verify(s).ok
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions == [
        "case.open", "case.approve", "case.probe.add", "case.close", "case.purge"
    ]  # fmt: skip
