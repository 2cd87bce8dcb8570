"""Investigation cases over HTTP: open, approve, probe, search, follow scans, review, export.

Every search is refused with 403 unless the case is approved (by a supervisor other than the
requester), unexpired and not closed, and stays inside its time window and camera scope; the
problem's ``detail`` says which rule refused it. Views of a case, its results and each crop
are audited (``case.view.*``), as are searches, reviews and exports. Progress of scans is not
audited: it shows recordings and counts, never a face.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.investigations import archive, cases, export, probes, results
from watchkeeper.investigations.errors import CaseForbidden, CaseRefused, InvestigationError
from watchkeeper.investigations.runner import ScanRunner
from watchkeeper.investigations.scan import ScanRequest
from watchkeeper.policy import approvals
from watchkeeper.store import investigations as store
from watchkeeper.store.investigations import CASE_PURPOSES
from watchkeeper.usecases import approvals as decisions

router = APIRouter(prefix="/cases", tags=["investigations"])

MODEL_WAIT_S = 120.0


class CaseIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100)
    purpose: Literal["missing_person", "wanted_person", "victim_identification"] = Field(
        description=f"One of {', '.join(CASE_PURPOSES)}."
    )
    legal_basis: str = Field(min_length=3, max_length=5000)
    window_start: datetime
    window_end: datetime
    expires_at: datetime
    cameras: list[str] = Field(default_factory=list, max_length=1000)
    camera_groups: list[str] = Field(default_factory=list, max_length=1000)
    threshold: float | None = Field(default=None, gt=-1, lt=1)


class CaseOut(BaseModel):
    id: int
    reference: str
    purpose: str
    legal_basis: str
    state: str
    requested_by: str
    created_at: str | None
    window_start: str | None
    window_end: str | None
    cameras: list[str]
    camera_groups: list[str]
    expires_at: str | None
    threshold: float
    approved_by: str | None
    approved_at: str | None
    closed_by: str | None
    closed_at: str | None
    close_reason: str | None


class Decision(BaseModel):
    comment: str | None = Field(default=None, max_length=1000)


class Reason(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)


class ArchiveSearchIn(BaseModel):
    cameras: list[str] = Field(default_factory=list, description="Narrow to these cameras.")
    start: datetime | None = Field(default=None, description="Narrow the window (not widen).")
    end: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class ScanIn(BaseModel):
    paths: list[str] = Field(
        min_length=1, max_length=1000, description="Files or folders, relative to the "
        "configured recordings folder."
    )  # fmt: skip
    sample_fps: float | None = Field(default=None, gt=0, le=60)
    camera: str | None = None
    start: datetime | None = None


class ReviewIn(BaseModel):
    decision: Literal["is_person", "is_not"]
    comment: str | None = Field(default=None, max_length=1000)


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _runner(request: Request) -> ScanRunner:
    runner = getattr(request.app.state, "case_scans", None)
    if runner is None:
        runner = request.app.state.case_scans = ScanRunner(_ctx(request))
    assert isinstance(runner, ScanRunner)
    return runner


@contextmanager
def _refusals() -> Iterator[None]:
    """The rules' refusals as problems: 403 for what the law or four eyes forbid."""
    try:
        yield
    except (CaseRefused, CaseForbidden, approvals.ApprovalForbidden) as exc:
        raise ProblemError(403, str(exc), title="Refused") from None
    except (InvestigationError, approvals.ApprovalError) as exc:
        raise ProblemError(409, str(exc)) from None


def _out(case: store.Case) -> CaseOut:
    return CaseOut(**cases.describe(case))


@router.get("", response_model=Page[CaseOut], summary="List cases")
def list_cases(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("cases:read"))],
) -> Page[CaseOut]:
    with _ctx(request).db.session(readonly=True) as s:
        rows = [_out(c) for c in store.list_cases(s, page.after, page.limit + 1)]
    return paginate(request, rows, page, key=lambda c: c.id)


@router.post(
    "", response_model=CaseOut, status_code=201, summary="Open a case (inert until approved)"
)
def open_case(
    request: Request,
    body: CaseIn,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> CaseOut:
    ctx = _ctx(request)
    for moment in (body.window_start, body.window_end, body.expires_at):
        if moment.tzinfo is None:
            raise ProblemError(422, "times need a time zone, e.g. 2027-03-31T14:00:00Z")
    with _refusals(), ctx.db.session() as s:
        case = cases.open_case(
            s,
            cases.CaseRequest(**body.model_dump()),
            principal.actor,
            default_threshold=ctx.settings.matching.default_threshold,
            max_days=ctx.settings.investigations.max_case_days,
        )
        return _out(case)


@router.get("/{case_id}", summary="A case with its probes and recordings (audited)")
def get_case(
    request: Request,
    case_id: RowId,
    principal: Annotated[Principal, Depends(require("cases:read"))],
) -> dict[str, Any]:
    with _ctx(request).db.session() as s:
        case = store.get_case(s, case_id)
        detail = cases.describe(case) | {
            "probes": [
                {"id": p.id, "quality": p.quality, "model": p.model, "added_by": p.created_by}
                for p in store.probes_of(s, case.id)
            ],
            "candidates": store.count_candidates(s, case.id),
        }
        results.record_view(s, case.id, principal.actor, "case")
        return detail


@router.post("/{case_id}/approve", response_model=CaseOut, summary="Approve (another supervisor)")
def approve_case(
    request: Request,
    case_id: RowId,
    body: Decision,
    principal: Annotated[Principal, Depends(require("cases:approve"))],
) -> CaseOut:
    with _refusals():
        decided = decisions.approve_case(
            _ctx(request).db, principal.actor, case_id, body.comment, principal.role
        )
    return CaseOut(**decided)


@router.post("/{case_id}/refuse", response_model=CaseOut, summary="Refuse a pending case")
def refuse_case(
    request: Request,
    case_id: RowId,
    body: Reason,
    principal: Annotated[Principal, Depends(require("cases:approve"))],
) -> CaseOut:
    with _refusals():
        decided = decisions.refuse_case(
            _ctx(request).db, principal.actor, case_id, body.reason, principal.role
        )
    return CaseOut(**decided)


@router.post("/{case_id}/close", response_model=CaseOut, summary="Close: every search stops")
def close_case(
    request: Request,
    case_id: RowId,
    body: Reason,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> CaseOut:
    with _refusals(), _ctx(request).db.session() as s:
        return _out(cases.close_case(s, case_id, principal.actor, body.reason))


@router.post("/{case_id}/probes", status_code=201, summary="Add probe photos of the subject")
def add_probes(
    request: Request,
    case_id: RowId,
    principal: Annotated[Principal, Depends(require("cases:write"))],
    photos: Annotated[list[UploadFile], File(description="Photos of the person, one face each.")],
) -> dict[str, list[int]]:
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        store.get_case(s, case_id)  # an unknown case fails before any model runs
    files = [(p.filename or f"photo {i + 1}", p.file.read()) for i, p in enumerate(photos)]
    if not request.app.state.models_ready.wait(timeout=MODEL_WAIT_S):
        raise ProblemError(503, "the face models are still loading; try again shortly")
    settings = ctx.settings
    with _refusals(), request.app.state.enrol_lock:
        ids = probes.add_probes(
            ctx.db, ctx.media, ctx.analyzer, case_id, files, principal.actor,
            max_pixels=settings.streams.max_image_pixels,
            min_quality=settings.vision.enrol_min_quality,
        )  # fmt: skip
    return {"probes": ids}


@router.post("/{case_id}/search", summary="Search archived sightings for the subject")
def search_archive(
    request: Request,
    case_id: RowId,
    body: ArchiveSearchIn,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> dict[str, Any]:
    ctx = _ctx(request)
    if not request.app.state.models_ready.wait(timeout=MODEL_WAIT_S):
        raise ProblemError(503, "the face models are still loading; try again shortly")
    index = getattr(request.app.state, "archive_index", None)
    if index is None or index.model != ctx.analyzer.model:  # one per process, kept in step
        index = request.app.state.archive_index = archive.ArchiveIndex(
            ctx.analyzer.model, ctx.cipher
        )
    with _refusals():
        found = archive.search_archive(
            ctx.db, case_id, principal.actor, ctx.analyzer.model, cipher=ctx.cipher,
            index=index, cameras=body.cameras, start=body.start, end=body.end,
            fusion=ctx.settings.matching.fusion, limit=body.limit,
        )  # fmt: skip
    return {
        "sightings_searched": found.sightings,
        "hits": found.hits,
        "new_candidates": found.new_candidates,
        "search_ms": round(found.search_ms, 1),
    }


@router.post("/{case_id}/scans", status_code=202, summary="Scan recordings in the background")
def start_scan(
    request: Request,
    case_id: RowId,
    body: ScanIn,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> dict[str, Any]:
    ctx = _ctx(request)
    runner = _runner(request)
    with _refusals():
        with ctx.db.session(readonly=True) as s:
            cases.check_searchable(store.get_case(s, case_id))
        paths = [runner.resolve(p) for p in body.paths]
        runner.start(
            case_id,
            ScanRequest(
                case_id, paths, body.camera, body.start, body.sample_fps, actor=principal.actor
            ),
        )
    return {"case_id": case_id, "state": "running"}


@router.get("/{case_id}/scans", summary="Progress of the case's scans, per recording")
def scan_progress(
    request: Request,
    case_id: RowId,
    _: Annotated[Principal, Depends(require("cases:read"))],
) -> dict[str, Any]:
    with _ctx(request).db.session(readonly=True) as s:
        case = store.get_case(s, case_id)
        recordings = [
            {
                "id": r.id, "path": r.path, "camera": r.camera, "sha256": r.sha256,
                "started_at": r.started_at, "state": r.state, "last_frame": r.last_frame,
                "frames": r.frames, "error": r.error,
                "progress": 1.0 if r.state == "done" else
                round((r.last_frame + 1) / r.frames, 3) if r.frames else 0.0,
            }
            for r in store.sources_of(s, case.id)
        ]  # fmt: skip
    background = _runner(request).get(case_id)
    return {
        "running": bool(background and background.running),
        "error": background.error if background else None,
        "recordings": recordings,
    }


@router.get("/{case_id}/results", summary="Candidates ranked, and a timeline (audited)")
def get_results(
    request: Request,
    case_id: RowId,
    principal: Annotated[Principal, Depends(require("cases:read"))],
) -> dict[str, Any]:
    with _ctx(request).db.session() as s:
        case = store.get_case(s, case_id)
        found = results.ranked(s, case.id)
        results.record_view(s, case.id, principal.actor, "results", candidates=len(found))
    for c in found:
        c["crop_url"] = f"/api/v1/cases/{case_id}/candidates/{c['id']}/crop"
    return {"case": case.reference, "candidates": found, "timeline": results.timeline(found)}


@router.get(
    "/{case_id}/candidates/{candidate_id}/crop",
    summary="A candidate's face crop (audited)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def candidate_crop(
    request: Request,
    case_id: RowId,
    candidate_id: RowId,
    principal: Annotated[Principal, Depends(require("cases:read"))],
) -> Response:
    ctx = _ctx(request)
    with ctx.db.session() as s:
        candidate = store.get_candidate(s, case_id, candidate_id)
        if candidate.crop_sha256 is None:
            raise ProblemError(404, f"candidate {candidate_id} has no crop")
        data = ctx.media.read(candidate.crop_sha256)
        results.record_view(s, case_id, principal.actor, "crop", candidate=candidate_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{case_id}/candidates/{candidate_id}/review", summary="Is it the person?")
def review_candidate(
    request: Request,
    case_id: RowId,
    candidate_id: RowId,
    body: ReviewIn,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> dict[str, Any]:
    with _refusals(), _ctx(request).db.session() as s:
        row = results.review_candidate(
            s, case_id, candidate_id, body.decision, principal.actor, body.comment
        )
        return {"id": row.id, "review": row.review, "reviewed_by": row.reviewed_by}


@router.post("/{case_id}/exports", status_code=201, summary="Ask to export evidence")
def request_export(
    request: Request,
    case_id: RowId,
    body: Reason,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> dict[str, Any]:
    with _refusals(), _ctx(request).db.session() as s:
        row = export.request_export(s, case_id, principal.actor, body.reason)
        return {"approval_id": row.id, "state": row.state}


@router.post(
    "/{case_id}/exports/{approval_id}",
    summary="Collect an approved evidence export (once), as a zip of JSON, HTML and images",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def collect_export(
    request: Request,
    case_id: RowId,
    approval_id: RowId,
    principal: Annotated[Principal, Depends(require("cases:write"))],
) -> Response:
    ctx = _ctx(request)
    collected: list[bytes] = []
    with _refusals():
        evidence = export.export_evidence(
            ctx.db, ctx.media, case_id, approval_id, principal.actor,
            fusion=ctx.settings.matching.fusion,
            deliver=lambda e: collected.append(export.as_zip(e)),
        )  # fmt: skip
    return Response(
        collected[0],
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"',
            "X-Evidence-SHA256": evidence.digests["evidence.json"],
        },
    )
