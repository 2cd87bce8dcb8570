"""Alerts and matched sightings: what operators see and decide.

``POST /alerts/{id}/review`` records one reviewer's decision. Where the watchlist requires
two confirmations, the alert stays unconfirmed (not actionable) until a second, different
user confirms; a user who confirms twice gets 409, and one rejection rejects. Every review
is written to the audit log in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.alerts import AlertService, ReviewError
from watchkeeper.alerts.documents import alert_document
from watchkeeper.api.auth import Principal, require
from watchkeeper.api.live import runtime
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import audit
from watchkeeper.store import alerts as alert_store

router = APIRouter(tags=["alerts"])

State = Literal["new", "confirmed", "rejected", "escalated"]


class Ref(BaseModel):
    id: int
    name: str


class CameraRef(Ref):
    group: str


class ReviewOut(BaseModel):
    id: int
    reviewer: str
    user_id: int | None
    decision: str
    comment: str | None
    at: datetime


class AlertOut(BaseModel):
    id: int
    state: State
    camera: CameraRef
    person: Ref
    watchlist: Ref
    score: float
    threshold: float
    count: int = Field(description="Sightings folded into this alert.")
    first_seen: datetime
    last_seen: datetime
    created_at: datetime
    updated_at: datetime
    sighting_id: int = Field(description="The sighting whose face crop the alert shows.")
    photo_id: int | None = Field(description="The enrolled photo behind the best template.")
    confirmations_required: int
    confirmed_by: list[str]
    actionable: bool = Field(description="Confirmed by as many reviewers as the list requires.")
    crop_url: str
    reviews: list[ReviewOut]


class ReviewIn(BaseModel):
    decision: Literal["confirm", "reject", "escalate"]
    comment: str | None = Field(default=None, max_length=2000)


class MatchOut(BaseModel):
    id: int
    person: Ref
    watchlist: Ref
    score: float
    threshold: float


class SightingOut(BaseModel):
    id: int
    camera: Ref
    track_id: int
    started_at: datetime
    ended_at: datetime
    detections: int
    quality: float
    matches: list[MatchOut]


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _service(request: Request) -> AlertService:
    """The running service's (which also tells live listeners), or one for this request."""
    live = runtime(request)
    if live is not None:
        return live.alerts
    ctx = _ctx(request)
    return AlertService(ctx.db, ctx.media, ctx.settings.notifications)


@router.get("/alerts", response_model=Page[AlertOut], summary="List alerts, newest first")
def list_alerts(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("alerts:read"))],
    state: State | None = None,
    camera_id: RowId | None = None,
    watchlist_id: RowId | None = None,
    since: Annotated[datetime | None, Query(description="Last seen at or after.")] = None,
    until: Annotated[datetime | None, Query(description="First seen before.")] = None,
) -> Page[AlertOut]:
    where = alert_store.AlertFilter(state, camera_id, watchlist_id, _aware(since), _aware(until))
    with _ctx(request).db.session(readonly=True) as s:
        views = alert_store.list_alerts(s, where, page.after, page.limit + 1)
        items = [AlertOut(**alert_document(v)) for v in views]
    return paginate(request, items, page, key=lambda a: a.id)


@router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert")
def get_alert(
    request: Request,
    alert_id: RowId,
    _: Annotated[Principal, Depends(require("alerts:read"))],
) -> AlertOut:
    with _ctx(request).db.session(readonly=True) as s:
        return AlertOut(**alert_document(alert_store.view_alert(s, alert_id)))


@router.get(
    "/alerts/{alert_id}/crop",
    summary="The face crop of the alert (JPEG; audited as alert.crop.view)",
    responses={200: {"content": {"image/jpeg": {}}}},
)
def alert_crop(
    request: Request,
    alert_id: RowId,
    principal: Annotated[Principal, Depends(require("persons:photos:view"))],
) -> Response:
    """A face is a face wherever it is shown: the crop needs the permission of enrolled
    photos (checked before the alert is looked up) and every view is audited."""
    ctx = _ctx(request)
    with ctx.db.session() as s:
        sha = alert_store.view_alert(s, alert_id).crop_sha256
        if sha is None:
            raise ProblemError(404, f"alert {alert_id} has no face crop")
        data = ctx.media.read(sha)
        audit.record(
            s, principal.actor, "alert.crop.view", "alert", alert_id,
            details={"alert": alert_id, "sha256": sha},
        )  # fmt: skip
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post("/alerts/{alert_id}/review", response_model=AlertOut, summary="Review an alert")
def review_alert(
    request: Request,
    alert_id: RowId,
    body: ReviewIn,
    principal: Annotated[Principal, Depends(require("alerts:review"))],
) -> AlertOut:
    try:
        document = _service(request).review(
            alert_id,
            user_id=principal.user_id,
            reviewer=principal.username,
            actor=principal.actor,
            decision=body.decision,
            comment=body.comment,
        )
    except ReviewError as exc:
        raise ProblemError(409, str(exc), title="Review not allowed") from None
    return AlertOut(**document)


@router.get(
    "/sightings", response_model=Page[SightingOut], summary="Matched sightings, newest first"
)
def list_sightings(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("sightings:read"))],
    camera_id: RowId | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[SightingOut]:
    with _ctx(request).db.session(readonly=True) as s:
        views = alert_store.page_sightings(
            s, camera_id, _aware(since), _aware(until), page.after, page.limit + 1
        )
        items = [_sighting_out(v) for v in views]
    return paginate(request, items, page, key=lambda v: v.id)


def _sighting_out(view: alert_store.SightingView) -> SightingOut:
    row = view.sighting
    matches = [
        MatchOut(
            id=m.id,
            person=Ref(id=m.person_id, name=person),
            watchlist=Ref(id=m.watchlist_id, name=watchlist),
            score=m.score,
            threshold=m.threshold,
        )
        for m, person, watchlist in view.matches
    ]
    return SightingOut(
        id=row.id,
        camera=Ref(id=row.camera_id, name=view.camera),
        track_id=row.track_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        detections=row.detections,
        quality=row.quality,
        matches=matches,
    )


def _aware(moment: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
