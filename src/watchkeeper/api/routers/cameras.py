"""Cameras: their configuration (stored), status and latest frame (live, from the service).

A change takes effect at once when the API runs inside ``watchkeeper serve``: the camera's
worker is restarted with the new settings (or stopped, when disabled or deleted). The URI is
checked before anything is stored: an unknown scheme, a URL without a host or a bad port is
a 422 with the reason. ``POST /cameras/test`` opens a URI for a few seconds and says whether
frames come, for the console's "live test" before saving.

The server opens what a camera names, so the API guards what it may name (finding 5 of the
2026-11 attacker test): files and folders only under ``api.camera_file_roots``; a failed
test answers one error whatever went wrong, after the full time asked for, so it tells a
closed port from an open one no better than a missing file from an existing one (the
reason goes to the server's log); tests are audited (``camera.test``) and limited to
``api.camera_tests_per_minute`` per user. A snapshot is a face image: it needs
``persons:photos:view`` and its viewing is audited (``camera.snapshot.view``, once per
viewer and camera every ten minutes, see ``api.viewlog``).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.limits import RateLimit
from watchkeeper.api.live import apply_camera, running_cameras
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.api.viewlog import audit_snapshot_view
from watchkeeper.context import AppContext
from watchkeeper.policy import audit
from watchkeeper.store import cameras as camera_store
from watchkeeper.streams.base import redact
from watchkeeper.streams.probe import ProbeResult, check_reachable_by_remote, check_uri, probe
from watchkeeper.usecases import cameras as registry
from watchkeeper.usecases.runtime import CameraStatus

log = logging.getLogger(__name__)
router = APIRouter(prefix="/cameras", tags=["cameras"])
NO_FRAMES = (
    "no frames came: the source is unreachable, refused the connection or sent nothing "
    "that decodes as video (the server's log says which)"
)

Roi = Annotated[
    list[float] | None,
    Field(
        default=None,
        max_length=200,
        description="Region where faces count, in fractions of the picture (0..1): a box "
        "[x1, y1, x2, y2] or a polygon [x, y, x, y, ...]. None: the whole picture. Motion "
        "outside it neither costs a detection nor keeps the camera awake.",
    ),
]


class CameraStatusOut(BaseModel):
    camera_id: int
    name: str
    state: str = Field(
        description="starting, connecting, connected, reconnecting, failed, stopping (asked to "
        "stop, still deciding its open tracks), stopped or disabled"
    )
    reason: str | None = Field(description="Why the camera is not connected, when it is not.")
    fps_in: float
    fps_analysed: float
    lag_s: float | None = Field(description="Age of the last analysed frame (live sources).")
    key_frames_only: bool = Field(
        default=False,
        description="The picture has been still (motion.sleep_after_s): only the stream's key "
        "frames are decoded until one shows motion; fps_in counts those alone.",
    )
    last_frame_at: float | None = Field(description="Unix time of the last analysed frame.")
    faces_per_s: float
    frames_in: int
    frames_analysed: int
    faces: int
    sightings: int
    alerts: int
    errors: int
    attempts: int


class CameraOut(BaseModel):
    id: int
    name: str
    uri: str = Field(description="The source URI, with any password shown as ***.")
    group: str
    analysis_fps: float
    enabled: bool
    min_face_size: int | None
    detection_threshold: float | None
    roi: list[float] | None
    motion_gating: bool | None = Field(
        default=None, description="Detect only where the picture changed; None: motion.enabled."
    )
    face_recognition: bool = True
    created_at: datetime | None
    status: CameraStatusOut | None = Field(
        default=None, description="Live status; None when the API runs without the service."
    )


class CameraCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    uri: str = Field(
        min_length=1,
        max_length=2000,
        description="rtsp://, rtsps://, http(s):// (MJPEG, HLS, progressive video), a video "
        "file, a folder of images or a device (/dev/video0) on the server.",
    )
    group: str = Field(default="default", min_length=1, max_length=100)
    analysis_fps: float = Field(default=5.0, gt=0, le=60)
    enabled: bool = True
    min_face_size: int | None = Field(
        default=None, ge=8, le=2000, description="Pixels; None: vision.min_face_size."
    )
    detection_threshold: float | None = Field(
        default=None, gt=0, lt=1, description="None: vision.detection_threshold."
    )
    roi: Roi = None
    motion_gating: bool | None = Field(
        default=None,
        description="Run the face detector only where the picture changed (saves most of the "
        "cost of quiet scenes); None: the configured default motion.enabled (on).",
    )
    face_recognition: bool = Field(
        default=True,
        description="False: the camera only counts people in its zones; no face is detected.",
    )


class CameraPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    uri: str | None = Field(default=None, min_length=1, max_length=2000)
    group: str | None = Field(default=None, min_length=1, max_length=100)
    analysis_fps: float | None = Field(default=None, gt=0, le=60)
    enabled: bool | None = None
    min_face_size: int | None = Field(default=None, ge=8, le=2000)
    detection_threshold: float | None = Field(default=None, gt=0, lt=1)
    roi: Roi = None
    motion_gating: bool | None = None
    face_recognition: bool | None = None
    reason: str | None = Field(default=None, max_length=1000, description="For the audit log.")


class CameraTest(BaseModel):
    uri: str = Field(min_length=1, max_length=2000)
    seconds: float = Field(default=3.0, gt=0, le=15, description="Give up after this long.")


class CameraTestOut(BaseModel):
    ok: bool = Field(description="True when at least one frame came.")
    frames: int
    seconds: float
    width: int | None
    height: int | None
    fps_in: float | None
    error: str | None


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _status(request: Request, camera_id: int) -> CameraStatus | None:
    manager = running_cameras(request)
    return manager.status(camera_id) if manager is not None else None


def _unprocessable(exc: ValueError) -> ProblemError:
    return ProblemError(422, str(exc), title="Invalid camera")


def _check_remote_uri(request: Request, uri: str | None) -> None:
    """422 for a URI a remote user may not point a camera at (see the module docstring)."""
    if uri is None:
        return
    try:
        check_reachable_by_remote(uri, _ctx(request).settings.api.camera_file_roots)
    except ValueError as exc:
        raise _unprocessable(exc) from None


@router.get("", response_model=Page[CameraOut], summary="List cameras with their status")
def list_cameras(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("cameras:read"))],
    group: Annotated[str | None, Query(max_length=100)] = None,
    enabled: bool | None = None,
) -> Page[CameraOut]:
    with _ctx(request).db.session(readonly=True) as s:
        rows = camera_store.list_cameras(s, enabled, group, page.after, page.limit + 1)
        items = [
            CameraOut(**registry.camera_document(row, _status(request, row.id))) for row in rows
        ]
    return paginate(request, items, page, key=lambda c: c.id)


@router.post("", response_model=CameraOut, status_code=201, summary="Add a camera")
def create_camera(
    request: Request,
    body: CameraCreate,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
) -> CameraOut:
    _check_remote_uri(request, body.uri)
    try:
        document = registry.add_camera(_ctx(request).db, principal.actor, body.model_dump())
    except registry.CameraConfigError as exc:
        raise _unprocessable(exc) from None
    apply_camera(request, document["id"])
    return CameraOut(**registry.with_status(document, _status(request, document["id"])))


@router.post(
    "/test",
    response_model=CameraTestOut,
    summary="Try a URI: do frames come? (audited; limited per user)",
    responses={429: {"description": "More than api.camera_tests_per_minute tests"}},
)
def test_camera(
    request: Request,
    body: CameraTest,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
) -> CameraTestOut:
    ctx = _ctx(request)
    limit: RateLimit = request.app.state.camera_tests
    if wait := limit.take(f"user:{principal.user_id}"):
        raise ProblemError(
            429,
            f"more than {limit.limit} camera tests in a minute (api.camera_tests_per_minute); "
            f"try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    _check_remote_uri(request, body.uri)
    try:
        uri = check_uri(body.uri)
    except ValueError as exc:
        raise _unprocessable(exc) from None
    started = time.monotonic()
    result = probe(uri, body.seconds)
    if not result.ok:
        log.info("camera test of %s by %s: %s", redact(uri), principal.actor, result.error)
        time.sleep(max(0.0, body.seconds - (time.monotonic() - started)))
        result = ProbeResult(False, 0, body.seconds, error=NO_FRAMES)
    with ctx.db.session() as s:
        audit.record(
            s, principal.actor, "camera.test", "camera", None,
            details={"uri": redact(uri), "ok": result.ok, "frames": result.frames},
        )  # fmt: skip
    return CameraTestOut(**result.as_dict())


@router.get("/{camera_id}", response_model=CameraOut, summary="One camera with its status")
def get_camera(
    request: Request,
    camera_id: RowId,
    _: Annotated[Principal, Depends(require("cameras:read"))],
) -> CameraOut:
    with _ctx(request).db.session(readonly=True) as s:
        row = camera_store.get_camera(s, camera_id)
        return CameraOut(**registry.camera_document(row, _status(request, camera_id)))


@router.patch("/{camera_id}", response_model=CameraOut, summary="Change a camera")
def patch_camera(
    request: Request,
    camera_id: RowId,
    body: CameraPatch,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
) -> CameraOut:
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    if changes.get("uri") is not None:
        with _ctx(request).db.session(readonly=True) as s:
            stored = camera_store.get_camera(s, camera_id).uri
        if changes["uri"] not in (stored, redact(stored)):  # a form sending the URI back is fine
            _check_remote_uri(request, changes["uri"])
    for field in ("name", "uri", "group", "analysis_fps", "enabled", "face_recognition"):
        if field in changes and changes[field] is None:
            raise ProblemError(422, f"{field} cannot be null", title="Invalid camera")
    try:
        document = registry.update_camera(
            _ctx(request).db, principal.actor, camera_id, changes, body.reason
        )
    except registry.CameraConfigError as exc:
        raise _unprocessable(exc) from None
    apply_camera(request, camera_id)
    return CameraOut(**registry.with_status(document, _status(request, camera_id)))


@router.delete("/{camera_id}", status_code=204, summary="Delete a camera without sightings")
def delete_camera(
    request: Request,
    camera_id: RowId,
    principal: Annotated[Principal, Depends(require("cameras:write"))],
    reason: Annotated[str | None, Query(max_length=1000, description="For the audit log.")] = None,
) -> Response:
    registry.delete_camera(_ctx(request).db, principal.actor, camera_id, reason)
    manager = running_cameras(request)
    if manager is not None:
        manager.remove(camera_id)
    return Response(status_code=204)


@router.get("/{camera_id}/status", response_model=CameraStatusOut, summary="Live status")
def camera_status(
    request: Request,
    camera_id: RowId,
    _: Annotated[Principal, Depends(require("cameras:read"))],
) -> CameraStatusOut:
    with _ctx(request).db.session(readonly=True) as s:
        row = camera_store.get_camera(s, camera_id)
        name, enabled = row.name, row.enabled
    status = _status(request, camera_id)
    if status is None:
        state = "stopped" if enabled else "disabled"
        reason = "the camera service is not running in this process" if enabled else None
        status = CameraStatus(camera_id, name, state, reason)
    return CameraStatusOut(**status.as_dict())


@router.get(
    "/{camera_id}/snapshot",
    summary="The latest analysed frame as JPEG (from memory; never stored; audited)",
    responses={200: {"content": {"image/jpeg": {}}}},
)
def camera_snapshot(
    request: Request,
    camera_id: RowId,
    principal: Annotated[Principal, Depends(require("persons:photos:view"))],
) -> Response:
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        name = camera_store.get_camera(s, camera_id).name
    manager = running_cameras(request)
    jpeg = manager.snapshot(camera_id) if manager is not None else None
    if jpeg is None:
        raise ProblemError(404, f'camera "{name}" has no frame yet (not running or not connected)')
    audit_snapshot_view(request, ctx.db, principal.actor, camera_id, name)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
