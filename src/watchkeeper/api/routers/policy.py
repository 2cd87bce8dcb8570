"""Accountability settings: watchlist reviews, archive mode per camera group, the retention
purge, and the transparency report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import retention
from watchkeeper.policy.report import build_report
from watchkeeper.policy.report_html import render_html
from watchkeeper.policy.review import ReviewError, review_watchlist
from watchkeeper.store import policy as policy_store

router = APIRouter(prefix="/policy", tags=["policy"])


class Review(BaseModel):
    next_review: datetime
    reason: str = Field(min_length=3, max_length=2000)


class ReviewOut(BaseModel):
    watchlist_id: int
    name: str
    review_by: datetime


class ArchiveSetting(BaseModel):
    archive_days: int = Field(ge=0, le=3650, description="0: off (keep no unmatched data).")
    reason: str = Field(min_length=3, max_length=1000)


class GroupPolicyOut(BaseModel):
    group: str
    archive_days: int | None
    updated_by: str
    updated_at: datetime


class PurgeOut(BaseModel):
    persons: int
    archived_sightings: int
    files: int


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.post(
    "/watchlists/{watchlist_id}/review", response_model=ReviewOut, summary="Review a watchlist"
)
def review(
    request: Request,
    watchlist_id: RowId,
    body: Review,
    principal: Annotated[Principal, Depends(require("watchlists:write"))],
) -> ReviewOut:
    try:
        with _ctx(request).db.session() as s:
            wl = review_watchlist(
                s, watchlist_id, _aware(body.next_review), body.reason, principal.actor
            )
            assert wl.review_by is not None
            return ReviewOut(watchlist_id=wl.id, name=wl.name, review_by=wl.review_by)
    except ReviewError as exc:
        raise ProblemError(422, str(exc)) from None


@router.get("/camera-groups", response_model=list[GroupPolicyOut], summary="Archive settings")
def camera_groups(
    request: Request, _: Annotated[Principal, Depends(require("cameras:read"))]
) -> list[GroupPolicyOut]:
    with _ctx(request).db.session(readonly=True) as s:
        return [
            GroupPolicyOut(
                group=g.group,
                archive_days=g.archive_days,
                updated_by=g.updated_by,
                updated_at=g.updated_at,
            )
            for g in policy_store.list_group_policies(s)
        ]


@router.put("/camera-groups/{group}", response_model=GroupPolicyOut, summary="Archive mode")
def set_archive(
    request: Request,
    group: str,
    body: ArchiveSetting,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
) -> GroupPolicyOut:
    ctx = _ctx(request)
    retention.set_archive(ctx.db, group, body.archive_days, principal.actor, body.reason)
    with ctx.db.session(readonly=True) as s:
        row = next(g for g in policy_store.list_group_policies(s) if g.group == group)
        return GroupPolicyOut(
            group=row.group,
            archive_days=row.archive_days,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
        )


@router.post("/purge", response_model=PurgeOut, summary="Run the retention purge now")
def purge(request: Request, _: Annotated[Principal, Depends(require("system:write"))]) -> PurgeOut:
    ctx = _ctx(request)
    result = retention.purge(ctx.db, ctx.media, ctx.settings.policy.expired_entry_grace_days)
    return PurgeOut(
        persons=result.persons, archived_sightings=result.archived_sightings, files=result.files
    )


def _report(request: Request, start: datetime, end: datetime) -> dict[str, Any]:
    try:
        with _ctx(request).db.session(readonly=True) as s:
            return build_report(s, _aware(start), _aware(end))
    except ValueError as exc:
        raise ProblemError(422, str(exc)) from None


@router.get("/report", summary="Transparency report (JSON)")
def report_json(
    request: Request,
    _: Annotated[Principal, Depends(require("reports:read"))],
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> dict[str, Any]:
    return _report(request, start, end)


@router.get("/report.html", response_class=HTMLResponse, summary="Transparency report (HTML)")
def report_html(
    request: Request,
    _: Annotated[Principal, Depends(require("reports:read"))],
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> HTMLResponse:
    return HTMLResponse(render_html(_report(request, start, end)))
