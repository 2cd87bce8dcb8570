"""Persons on watchlists: enrol from uploaded photos, search, read, delete, view photos.

Enrolment reuses ``enrolment.enrol_person``: every photo is checked (an image, one face, good
enough quality) before anything is written, and the person, photos, templates and audit
record are stored together. Viewing an enrolled photo is itself a sensitive act and is
audited as ``person.photo.view``; so is a search by name (``person.search``). Listing and
reading a person never returns photo bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.enrolment import enrol_person
from watchkeeper.policy import audit
from watchkeeper.store import repository
from watchkeeper.store.models import Person
from watchkeeper.usecases import persons as entries

router = APIRouter(tags=["persons"])

MODEL_WAIT_S = 120.0  # an upload right after start-up waits for the models to load


class PhotoOut(BaseModel):
    id: int
    width: int
    height: int
    quality: float
    face_box: list[float]
    url: str = Field(description="GET it to see the photo (the view is audited).")


class PersonOut(BaseModel):
    id: int
    watchlist_id: int
    watchlist: str
    name: str
    reason: str | None
    expires_at: datetime | None
    created_at: datetime
    created_by: str
    photos: list[PhotoOut]


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def person_out(person: Person) -> PersonOut:
    return PersonOut(
        id=person.id,
        watchlist_id=person.watchlist_id,
        watchlist=person.watchlist.name,
        name=person.name,
        reason=person.reason,
        expires_at=person.expires_at,
        created_at=person.created_at,
        created_by=person.created_by,
        photos=[
            PhotoOut(
                id=p.id,
                width=p.width,
                height=p.height,
                quality=round(p.quality, 4),
                face_box=p.face_box,
                url=f"/api/v1/persons/{person.id}/photos/{p.id}",
            )
            for p in person.photos
        ],
    )


def _search(
    request: Request,
    principal: Principal,
    page: PageParams,
    watchlist_id: int | None,
    q: str | None,
) -> Page[PersonOut]:
    """List persons; a search by name (``q``) is audited as ``person.search`` with what was
    searched and how many were found, since looking someone up is itself sensitive."""
    with _ctx(request).db.session() as s:
        if watchlist_id is not None:
            repository.get_watchlist(s, watchlist_id)  # 404 for a list that does not exist
        rows = [
            person_out(p)
            for p in repository.search_persons(s, watchlist_id, q, page.after, page.limit + 1)
        ]
        if q:
            audit.record(
                s, principal.actor, "person.search", "person", None,
                details={"q": q, "watchlist": watchlist_id, "results": min(len(rows), page.limit)},
            )  # fmt: skip
    return paginate(request, rows, page, key=lambda p: p.id)


SearchText = Annotated[
    str | None, Query(max_length=200, description="Only names containing this (any case).")
]


@router.get(
    "/watchlists/{watchlist_id}/persons",
    response_model=Page[PersonOut],
    summary="Persons on one watchlist",
)
def list_watchlist_persons(
    request: Request,
    watchlist_id: RowId,
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, Depends(require("persons:read"))],
    q: SearchText = None,
) -> Page[PersonOut]:
    return _search(request, principal, page, watchlist_id, q)


@router.get("/persons", response_model=Page[PersonOut], summary="Search persons by name")
def list_persons(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, Depends(require("persons:read"))],
    q: SearchText = None,
    watchlist_id: Annotated[RowId | None, Query(description="Only this watchlist.")] = None,
) -> Page[PersonOut]:
    return _search(request, principal, page, watchlist_id, q)


@router.post(
    "/watchlists/{watchlist_id}/persons",
    response_model=PersonOut,
    status_code=201,
    summary="Enrol a person from one or more photos (multipart)",
    responses={
        413: {"description": "Upload larger than api.max_upload_mb, or too many pixels"},
        415: {"description": "A file is not an image"},
        422: {"description": "A photo has no usable face (the message says which and why)"},
    },
)
def enrol(
    request: Request,
    watchlist_id: RowId,
    principal: Annotated[Principal, Depends(require("persons:write"))],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    photos: Annotated[list[UploadFile], File(description="One or more photos of the face.")],
    reason: Annotated[str | None, Form(max_length=5000)] = None,
    expires_at: Annotated[datetime | None, Form()] = None,
    largest_face: Annotated[
        bool, Form(description="Use the largest face when a photo shows several.")
    ] = False,
) -> PersonOut:
    ctx = _ctx(request)
    if expires_at is not None and expires_at.tzinfo is None:
        raise ProblemError(422, "expires_at needs a time zone, e.g. 2027-03-31T00:00:00Z")
    with ctx.db.session(readonly=True) as s:  # a missing list fails before any model runs
        wl_name = repository.get_watchlist(s, watchlist_id).name
    files = [(p.filename or f"photo {i + 1}", p.file.read()) for i, p in enumerate(photos)]
    if not request.app.state.models_ready.wait(timeout=MODEL_WAIT_S):
        raise ProblemError(503, "the face models are still loading; try again shortly")
    settings = ctx.settings
    with request.app.state.enrol_lock:
        enrolled = enrol_person(
            ctx.db,
            ctx.media,
            ctx.analyzer,
            watchlist=wl_name,
            name=name,
            photos=files,
            actor=principal.actor,
            reason=reason,
            expires_at=expires_at,
            max_pixels=settings.streams.max_image_pixels,
            min_quality=settings.vision.enrol_min_quality,
            largest_face=largest_face,
        )
    with ctx.db.session(readonly=True) as s:
        return person_out(repository.get_person(s, enrolled.person_id))


@router.get("/persons/{person_id}", response_model=PersonOut, summary="One person")
def get_person(
    request: Request,
    person_id: RowId,
    _: Annotated[Principal, Depends(require("persons:read"))],
) -> PersonOut:
    with _ctx(request).db.session(readonly=True) as s:
        return person_out(repository.get_person(s, person_id))


@router.delete("/persons/{person_id}", status_code=204, summary="Delete a person and their data")
def delete_person(
    request: Request,
    person_id: RowId,
    principal: Annotated[Principal, Depends(require("persons:write"))],
    reason: Annotated[str, Query(min_length=3, max_length=1000, description="For the audit log.")],
) -> Response:
    ctx = _ctx(request)
    entries.delete_person(ctx.db, ctx.media, principal.actor, person_id, reason)
    return Response(status_code=204)


@router.get(
    "/persons/{person_id}/photos/{photo_id}",
    summary="An enrolled photo (audited as person.photo.view)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def view_photo(
    request: Request,
    person_id: RowId,
    photo_id: RowId,
    principal: Annotated[Principal, Depends(require("persons:photos:view"))],
) -> Response:
    ctx = _ctx(request)
    with ctx.db.session() as s:
        person = repository.get_person(s, person_id)
        photo = next((p for p in person.photos if p.id == photo_id), None)
        if photo is None:
            raise ProblemError(404, f"person {person_id} has no photo {photo_id}")
        data = ctx.media.read(photo.media_sha256)
        audit.record(
            s, principal.actor, "person.photo.view", "photo", photo_id,
            details={"person": person_id, "sha256": photo.media_sha256},
        )  # fmt: skip
    return Response(
        data,
        media_type=_media_type(data),
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


def _media_type(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return "application/octet-stream"
