"""Authorised deployments: which watchlist may be matched on which camera group, and when.

Outside a deployment nothing is matched (``policy.require_authorisation``); ``/check`` says
in one sentence whether a list is matched on a group at a moment, and why not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.params import RowId
from watchkeeper.context import AppContext
from watchkeeper.policy import deployments
from watchkeeper.policy.eligibility import explain, load_snapshot
from watchkeeper.store import policy as policy_store
from watchkeeper.store import repository

router = APIRouter(prefix="/deployments", tags=["deployments"])


class DeploymentOut(BaseModel):
    id: int
    watchlist: str
    watchlist_id: RowId
    camera_group: str
    starts_at: datetime
    ends_at: datetime
    authorised_by: str
    authorisation_ref: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    status: str = Field(description="scheduled, active, ended or revoked")


class DeploymentCreate(BaseModel):
    watchlist_id: RowId
    camera_group: str = Field(min_length=1, max_length=100)
    starts_at: datetime
    ends_at: datetime
    authorised_by: str = Field(min_length=1, max_length=200)
    authorisation_ref: str = Field(min_length=1, max_length=2000)


class Revocation(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="For the audit log.")


class CheckOut(BaseModel):
    matched: bool
    explanation: str


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("", response_model=list[DeploymentOut], summary="List deployments")
def list_deployments(
    request: Request,
    _: Annotated[Principal, Depends(require("watchlists:read"))],
    camera_group: str | None = None,
) -> list[dict[str, Any]]:
    with _ctx(request).db.session(readonly=True) as s:
        rows = policy_store.list_deployments(s, camera_group=camera_group)
        return [deployments.describe(s, d) for d in rows]


@router.post("", response_model=DeploymentOut, status_code=201, summary="Authorise a deployment")
def create_deployment(
    request: Request,
    body: DeploymentCreate,
    principal: Annotated[Principal, Depends(require("watchlists:write"))],
) -> dict[str, Any]:
    with _ctx(request).db.session() as s:
        row = deployments.authorise(
            s, body.watchlist_id, body.camera_group, _aware(body.starts_at),
            _aware(body.ends_at), body.authorised_by, body.authorisation_ref, principal.actor,
        )  # fmt: skip
        return deployments.describe(s, row)


@router.post("/{deployment_id}/revoke", response_model=DeploymentOut, summary="Revoke now")
def revoke_deployment(
    request: Request,
    deployment_id: RowId,
    body: Revocation,
    principal: Annotated[Principal, Depends(require("watchlists:write"))],
) -> dict[str, Any]:
    with _ctx(request).db.session() as s:
        row = deployments.revoke(s, deployment_id, principal.actor, body.reason)
        return deployments.describe(s, row)


@router.get("/check", response_model=CheckOut, summary="Is a watchlist matched here and now?")
def check(
    request: Request,
    _: Annotated[Principal, Depends(require("watchlists:read"))],
    watchlist_id: RowId,
    camera_group: Annotated[str, Query(min_length=1, max_length=100)],
    at: datetime | None = None,
) -> CheckOut:
    ctx = _ctx(request)
    moment = _aware(at) if at else datetime.now(UTC)
    with ctx.db.session(readonly=True) as s:
        wl_id = repository.get_watchlist(s, watchlist_id).id
        rules = load_snapshot(s, ctx.settings.policy.require_authorisation)
    blocked = rules.watchlist_block(wl_id, camera_group, moment, max(moment, datetime.now(UTC)))
    return CheckOut(
        matched=blocked is None, explanation=explain(rules, wl_id, camera_group, moment)
    )
