"""Watchlists: purpose-bound lists of persons, each with its legal basis and owner.

A list's threshold and review date decide what matches, so every change is audited with
the values before and after, and changing the threshold makes running matchers reload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.context import AppContext
from watchkeeper.store import repository
from watchkeeper.store.models import Watchlist
from watchkeeper.usecases import watchlists as lists

router = APIRouter(prefix="/watchlists", tags=["watchlists"])

Purpose = Literal["missing_person", "wanted_person", "victim_identification", "security", "other"]


class WatchlistOut(BaseModel):
    id: int
    name: str
    purpose: str
    legal_basis: str
    owner: str
    review_by: datetime | None
    threshold: float | None = Field(description="None: the configured default applies.")
    effective_threshold: float
    confirmations_required: int
    persons: int
    created_at: datetime


class WatchlistCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    purpose: Purpose
    legal_basis: str = Field(min_length=1, max_length=5000)
    owner: str = Field(min_length=1, max_length=200)
    review_by: datetime | None = None
    threshold: float | None = Field(default=None, gt=-1, lt=1)
    confirmations_required: int = Field(default=1, ge=1, le=10)


class WatchlistPatch(BaseModel):
    legal_basis: str | None = Field(default=None, min_length=1, max_length=5000)
    owner: str | None = Field(default=None, min_length=1, max_length=200)
    review_by: datetime | None = None
    threshold: float | None = Field(default=None, gt=-1, lt=1)
    confirmations_required: int | None = Field(default=None, ge=1, le=10)
    reason: str | None = Field(default=None, max_length=1000, description="For the audit log.")


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def watchlist_out(ctx: AppContext, wl: Watchlist, persons: int) -> WatchlistOut:
    default = ctx.settings.matching.default_threshold
    return WatchlistOut(
        id=wl.id,
        name=wl.name,
        purpose=wl.purpose,
        legal_basis=wl.legal_basis,
        owner=wl.owner,
        review_by=wl.review_by,
        threshold=wl.threshold,
        effective_threshold=wl.threshold if wl.threshold is not None else default,
        confirmations_required=wl.confirmations_required,
        persons=persons,
        created_at=wl.created_at,
    )


@router.get("", response_model=Page[WatchlistOut], summary="List watchlists")
def list_watchlists(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("watchlists:read"))],
) -> Page[WatchlistOut]:
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        rows = [
            watchlist_out(ctx, wl, n)
            for wl, n in repository.page_watchlists(s, page.after, page.limit + 1)
        ]
    return paginate(request, rows, page, key=lambda w: w.id)


@router.post("", response_model=WatchlistOut, status_code=201, summary="Create a watchlist")
def create_watchlist(
    request: Request,
    body: WatchlistCreate,
    principal: Annotated[Principal, Depends(require("watchlists:write"))],
) -> WatchlistOut:
    ctx = _ctx(request)
    wl_id = lists.create_watchlist(ctx.db, principal.actor, **body.model_dump())
    with ctx.db.session(readonly=True) as s:
        return watchlist_out(ctx, repository.get_watchlist(s, wl_id), 0)


@router.get("/{watchlist_id}", response_model=WatchlistOut, summary="One watchlist")
def get_watchlist(
    request: Request,
    watchlist_id: RowId,
    _: Annotated[Principal, Depends(require("watchlists:read"))],
) -> WatchlistOut:
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        wl = repository.get_watchlist(s, watchlist_id)
        return watchlist_out(ctx, wl, len(wl.persons))


@router.patch("/{watchlist_id}", response_model=WatchlistOut, summary="Change a watchlist")
def patch_watchlist(
    request: Request,
    watchlist_id: RowId,
    body: WatchlistPatch,
    principal: Annotated[Principal, Depends(require("watchlists:write"))],
) -> WatchlistOut:
    ctx = _ctx(request)
    given = body.model_dump(exclude_unset=True, exclude={"reason"})
    lists.update_watchlist(ctx.db, principal.actor, watchlist_id, given, body.reason)
    with ctx.db.session(readonly=True) as s:
        wl = repository.get_watchlist(s, watchlist_id)
        return watchlist_out(ctx, wl, len(wl.persons))


@router.delete("/{watchlist_id}", status_code=204, summary="Delete a watchlist and its persons")
def delete_watchlist(
    request: Request,
    watchlist_id: RowId,
    principal: Annotated[Principal, Depends(require("watchlists:write"))],
    reason: Annotated[str, Query(min_length=3, max_length=1000, description="For the audit log.")],
) -> Response:
    ctx = _ctx(request)
    lists.delete_watchlist(ctx.db, ctx.media, principal.actor, watchlist_id, reason)
    return Response(status_code=204)
