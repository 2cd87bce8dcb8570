"""API keys for machines: made by their owner only, shown once, revocable.

A key acts as its owner: the audit log credits the owner, and the distinct-person rules
(two confirmations, four-eyes approvals and exports) count the owner. So nobody, an admin
included, may make a key for someone else: it would be a credential acting as another person
(finding 1 of the 2026-11 attacker test). An admin may list and revoke anyone's keys.

A key's scopes are a subset of its owner's permissions; it can never do more than the
owner's role allows today, even if the role was lowered after the key was made.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import accounts
from watchkeeper.store import auth as store
from watchkeeper.store.auth import ApiKey

router = APIRouter(prefix="/apikeys", tags=["API keys"])


class ApiKeyOut(BaseModel):
    id: int
    user: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    token: str = Field(description="The key itself. Shown only now: store it safely.")


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What will use the key.")
    scopes: list[str] | None = Field(
        default=None, description="Permissions of the key; default: all of the owner's."
    )
    user: str | None = Field(
        default=None,
        description="The owner; must be the caller (keys are made by their owner only).",
    )


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        user=key.user.username,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _may_manage(principal: Principal, key: ApiKey) -> None:
    if key.user_id != principal.user_id and not principal.can("users:admin"):
        raise ProblemError(403, "only the owner or an admin (users:admin) may manage this key")


@router.get("", response_model=Page[ApiKeyOut], summary="List API keys")
def list_keys(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, Depends(require("account:self"))],
    all_users: Annotated[
        bool, Query(alias="all", description="Every user's keys (admins only).")
    ] = False,
) -> Page[ApiKeyOut]:
    if all_users and not principal.can("users:admin"):
        raise ProblemError(403, "listing every user's keys needs users:admin")
    with _ctx(request).db.session(readonly=True) as s:
        owner = None if all_users else store.get_user(s, principal.user_id)
        rows = [key_out(k) for k in store.list_api_keys(s, owner, page.after, page.limit + 1)]
    return paginate(request, rows, page, key=lambda k: k.id)


@router.post("", response_model=ApiKeyCreated, status_code=201, summary="Create an API key")
def create_key(
    request: Request,
    body: ApiKeyCreate,
    principal: Annotated[Principal, Depends(require("account:self"))],
) -> ApiKeyCreated:
    if body.user is not None and body.user != principal.username:
        raise ProblemError(
            403,
            "API keys are made by their owner only: a key acts as its owner in the audit log "
            "and the two-person rules; that user must log in and make it",
        )
    # A key made with a key can never have more than the key that made it.
    wanted = set(body.scopes or principal.scopes)
    if not wanted <= principal.scopes:
        raise ProblemError(
            403, f"scope(s) {', '.join(sorted(wanted - principal.scopes))} exceed the "
            "caller's own permissions",
        )  # fmt: skip
    with _ctx(request).db.session() as s:
        owner = store.get_user(s, principal.user_id)
        scopes = sorted(wanted)
        issued = accounts.create_api_key(s, principal.actor, owner, body.name, scopes)
        return ApiKeyCreated(**key_out(issued.key).model_dump(), token=issued.token)


@router.delete("/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(
    request: Request,
    key_id: RowId,
    principal: Annotated[Principal, Depends(require("account:self"))],
) -> Response:
    with _ctx(request).db.session() as s:
        key = store.get_api_key(s, key_id)
        _may_manage(principal, key)
        accounts.revoke_api_key(s, principal.actor, key, datetime.now(UTC))
    return Response(status_code=204)
