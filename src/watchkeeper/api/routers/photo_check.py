"""``POST /photos/check``: judge one photo for enrolment before anything is stored.

The console shows each dropped photo's detected face and quality, or the reason it cannot be
used, before the supervisor enrols anyone; the same ``enrolment.check_photo`` then runs again
at enrolment, so what the preview accepts is what enrolment accepts. Nothing is written and
nothing is audited: the photo and its template are dropped when the answer is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.problems import ProblemError
from watchkeeper.api.routers.persons import MODEL_WAIT_S
from watchkeeper.context import AppContext
from watchkeeper.enrolment import check_photo

router = APIRouter(tags=["persons"])


class PhotoCheckOut(BaseModel):
    source: str
    width: int
    height: int
    face_box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the photo.")
    quality: float
    min_quality: float = Field(description="The least quality enrolment accepts.")
    faces_found: int


@router.post(
    "/photos/check",
    response_model=PhotoCheckOut,
    summary="Check a photo for enrolment: its face and quality (nothing is stored)",
    responses={
        413: {"description": "Upload larger than api.max_upload_mb, or too many pixels"},
        415: {"description": "Not an image"},
        422: {"description": "No usable face (the detail says why)"},
    },
)
def check(
    request: Request,
    _: Annotated[Principal, Depends(require("persons:write"))],
    photo: Annotated[UploadFile, File(description="One photo of the face.")],
    largest_face: Annotated[
        bool, Form(description="Use the largest face when the photo shows several.")
    ] = False,
) -> PhotoCheckOut:
    ctx: AppContext = request.app.state.ctx
    source = photo.filename or "photo"
    data = photo.file.read()
    if not request.app.state.models_ready.wait(timeout=MODEL_WAIT_S):
        raise ProblemError(503, "the face models are still loading; try again shortly")
    settings = ctx.settings
    with request.app.state.enrol_lock:
        checked = check_photo(
            data,
            source,
            ctx.analyzer,
            max_pixels=settings.streams.max_image_pixels,
            min_quality=settings.vision.enrol_min_quality,
            largest_face=largest_face,
        )
    return PhotoCheckOut(
        source=source,
        width=checked.width,
        height=checked.height,
        face_box=[round(v, 1) for v in checked.box],
        quality=round(checked.quality, 4),
        min_quality=settings.vision.enrol_min_quality,
        faces_found=checked.faces_found,
    )
