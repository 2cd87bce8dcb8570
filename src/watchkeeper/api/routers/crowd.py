"""Crowd counting over HTTP: zones, occupancy, live counts and crowd alerts.

Zones are camera configuration (``cameras:write`` to change, audited); counts and crowd alerts
carry no identity, so reading them needs only ``cameras:read``. A crowd alert is acknowledged
by one operator (``crowd:acknowledge``): nobody is identified, so no two-person rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.live import apply_camera, running_cameras, runtime
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.api.viewlog import audit_snapshot_view
from watchkeeper.context import AppContext
from watchkeeper.crowd.alerting import AcknowledgeError, CrowdAlertService
from watchkeeper.crowd.zones import ZoneError
from watchkeeper.store import cameras as camera_store
from watchkeeper.store import crowd as crowd_store
from watchkeeper.usecases import zones as registry

router = APIRouter(tags=["crowd"])

Point = tuple[float, float]


class LineIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    a: Point = Field(description="Start, in fractions of the picture (x, y from the top-left).")
    b: Point = Field(description="End; crossing from its left to its right counts as *in*.")


class LimitsIn(BaseModel):
    max_people: int | None = Field(default=None, ge=0)
    max_density: float | None = Field(default=None, gt=0, description="People per m².")
    max_inflow_per_min: int | None = Field(default=None, ge=0)


class ZoneIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    polygon: list[Point] = Field(min_length=3, max_length=64)
    area_m2: float | None = Field(default=None, gt=0)
    lines: list[LineIn] = Field(default_factory=list, max_length=16)
    limits: LimitsIn = Field(default_factory=LimitsIn)


class ZoneCreate(ZoneIn):
    camera_id: RowId


class ZoneOut(ZoneIn):
    id: int
    camera_id: int
    camera: str
    created_by: str
    created_at: datetime | None


class MinuteOut(BaseModel):
    zone_id: int
    minute: datetime
    frames: int
    people_mean: float
    people_max: float
    density_max: float | None
    entered: int
    left: int


class ReadingOut(BaseModel):
    zone: str
    people: int
    smoothed: float
    density: float | None
    at: datetime


class CrowdAlertOut(BaseModel):
    kind: Literal["crowd"]
    id: int
    state: Literal["new", "acknowledged"]
    camera: dict[str, Any]
    zone: dict[str, Any]
    limit_kind: Literal["people", "density", "inflow"]
    value: float
    limit: float
    peak: float
    raised_at: datetime
    released_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


class Acknowledge(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _alerts(request: Request) -> CrowdAlertService:
    live = runtime(request)
    if live is not None:
        return live.crowd_alerts
    ctx = _ctx(request)  # the API without the live service: reading and acknowledging work
    return CrowdAlertService(ctx.db, ctx.settings.notifications)


def _invalid(exc: ValueError) -> ProblemError:
    return ProblemError(422, str(exc), title="Invalid zone")


@router.get("/zones", response_model=list[ZoneOut], summary="Crowd zones, of one camera or all")
def list_zones(
    request: Request,
    _: Annotated[Principal, Depends(require("cameras:read"))],
    camera_id: RowId | None = None,
) -> list[ZoneOut]:
    return [ZoneOut(**d) for d in registry.list_zones(_ctx(request).db, camera_id)]


@router.post("/zones", response_model=ZoneOut, status_code=201, summary="Add a crowd zone")
def create_zone(
    request: Request,
    body: ZoneCreate,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
) -> ZoneOut:
    definition = body.model_dump(exclude={"camera_id"})
    try:
        document = registry.add_zone(_ctx(request).db, principal.actor, body.camera_id, definition)
    except ZoneError as exc:
        raise _invalid(exc) from None
    apply_camera(request, body.camera_id)
    return ZoneOut(**document)


@router.put("/zones/{zone_id}", response_model=ZoneOut, summary="Replace a crowd zone")
def update_zone(
    request: Request,
    zone_id: RowId,
    body: ZoneIn,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
    reason: Annotated[str | None, Query(max_length=1000, description="For the audit log.")] = None,
) -> ZoneOut:
    try:
        document = registry.update_zone(
            _ctx(request).db, principal.actor, zone_id, body.model_dump(), reason
        )
    except ZoneError as exc:
        raise _invalid(exc) from None
    apply_camera(request, document["camera_id"])
    return ZoneOut(**document)


@router.delete("/zones/{zone_id}", status_code=204, summary="Delete a crowd zone and its counts")
def delete_zone(
    request: Request,
    zone_id: RowId,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
    reason: Annotated[str | None, Query(max_length=1000, description="For the audit log.")] = None,
) -> Response:
    db = _ctx(request).db
    with db.session(readonly=True) as s:
        camera_id = crowd_store.get_zone(s, zone_id).camera_id
    registry.delete_zone(db, principal.actor, zone_id, reason)
    apply_camera(request, camera_id)
    return Response(status_code=204)


@router.get(
    "/zones/occupancy",
    response_model=list[MinuteOut],
    summary="People per zone and minute over the last hours (the stored aggregates)",
)
def occupancy(
    request: Request,
    _: Annotated[Principal, Depends(require("cameras:read"))],
    camera_id: RowId | None = None,
    zone_id: RowId | None = None,
    hours: Annotated[float, Query(gt=0, le=24 * 31)] = 6.0,
) -> list[MinuteOut]:
    since = datetime.now(UTC) - timedelta(hours=hours)
    with _ctx(request).db.session(readonly=True) as s:
        return [
            MinuteOut(
                zone_id=m.zone_id,
                minute=m.minute,
                frames=m.frames,
                people_mean=m.people_mean,
                people_max=m.people_max,
                density_max=m.density_max,
                entered=m.entered,
                left=m.left,
            )
            for m in crowd_store.minutes_of(s, camera_id, zone_id, since)
        ]


@router.get(
    "/cameras/{camera_id}/crowd",
    response_model=list[ReadingOut],
    summary="The camera's zone counts of its latest analysed frame (from memory)",
)
def live_counts(
    request: Request,
    camera_id: RowId,
    _: Annotated[Principal, Depends(require("cameras:read"))],
) -> list[ReadingOut]:
    with _ctx(request).db.session(readonly=True) as s:
        camera_store.get_camera(s, camera_id)
    manager = running_cameras(request)
    monitor = manager.crowd(camera_id) if manager is not None else None
    if monitor is None:
        return []
    readings, _people, _image = monitor.live()
    return [
        ReadingOut(
            zone=r.zone,
            people=r.people,
            smoothed=r.smoothed,
            density=r.density,
            at=datetime.fromtimestamp(r.at, UTC),
        )
        for r in readings
    ]


@router.get(
    "/cameras/{camera_id}/crowd/snapshot",
    summary="The latest frame, zones and people drawn, faces blurred (memory; never stored; "
    "audited)",
    responses={200: {"content": {"image/jpeg": {}}}},
)
def crowd_snapshot(
    request: Request,
    camera_id: RowId,
    principal: Annotated[Principal, Depends(require("persons:photos:view"))],
) -> Response:
    """A camera frame like ``/cameras/{id}/snapshot``: faces are blurred, but a face both
    detectors missed would show, so it needs the face-image permission and its viewing is
    audited in the same window as the plain snapshot (decision 0010)."""
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        name = camera_store.get_camera(s, camera_id).name
    manager = running_cameras(request)
    jpeg = manager.crowd_snapshot(camera_id) if manager is not None else None
    if jpeg is None:
        raise ProblemError(404, f'camera "{name}" is not counting people now (no zones, or off)')
    audit_snapshot_view(
        request, ctx.db, principal.actor, camera_id, name, view="crowd, faces blurred"
    )
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/crowd-alerts", response_model=list[CrowdAlertOut], summary="Crowd alerts")
def list_crowd_alerts(
    request: Request,
    _: Annotated[Principal, Depends(require("cameras:read"))],
    state: Literal["new", "acknowledged"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CrowdAlertOut]:
    return [CrowdAlertOut(**d) for d in _alerts(request).documents(state, limit)]


@router.post(
    "/crowd-alerts/{alert_id}/acknowledge",
    response_model=CrowdAlertOut,
    summary="Acknowledge a crowd alert (one operator; audited)",
)
def acknowledge(
    request: Request,
    alert_id: RowId,
    body: Acknowledge,
    principal: Annotated[Principal, Depends(require("crowd:acknowledge"))],
) -> CrowdAlertOut:
    try:
        document = _alerts(request).acknowledge(alert_id, principal.actor, body.comment)
    except AcknowledgeError as exc:
        raise ProblemError(409, str(exc), title="Already acknowledged") from None
    return CrowdAlertOut(**document)
