"""User accounts: admins manage everyone; every user may change their own password."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.clients import client_address
from watchkeeper.api.limits import LoginThrottle
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import accounts, audit
from watchkeeper.store import auth as store
from watchkeeper.store.auth import User

router = APIRouter(prefix="/users", tags=["users"])

Role = Literal["admin", "supervisor", "operator", "auditor"]


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(
        min_length=accounts.MIN_PASSWORD_LENGTH, max_length=accounts.MAX_PASSWORD_LENGTH
    )
    role: Role


class UserPatch(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(
        default=None,
        min_length=accounts.MIN_PASSWORD_LENGTH,
        max_length=accounts.MAX_PASSWORD_LENGTH,
        description="Set a new password (e.g. the user forgot theirs); ends their sessions.",
    )
    reason: str | None = Field(default=None, max_length=1000, description="For the audit log.")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=accounts.MAX_PASSWORD_LENGTH)
    new_password: str = Field(
        min_length=accounts.MIN_PASSWORD_LENGTH, max_length=accounts.MAX_PASSWORD_LENGTH
    )


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


@router.get("", response_model=Page[UserOut], summary="List users")
def list_users(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("users:admin"))],
) -> Page[UserOut]:
    with _ctx(request).db.session(readonly=True) as s:
        rows = [user_out(u) for u in store.list_users(s, page.after, page.limit + 1)]
    return paginate(request, rows, page, key=lambda u: u.id)


@router.post("", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(
    request: Request,
    body: UserCreate,
    principal: Annotated[Principal, Depends(require("users:admin"))],
) -> UserOut:
    with _ctx(request).db.session() as s:
        user = accounts.create_user(s, principal.actor, body.username, body.password, body.role)
        return user_out(user)


@router.post(
    "/me/password", status_code=204, summary="Change one's own password (ends all sessions)"
)
def change_own_password(
    request: Request,
    body: PasswordChange,
    principal: Annotated[Principal, Depends(require("account:self"))],
) -> Response:
    """A wrong current password is audited and slows the account's next tries, so a session
    left open cannot be used to guess the password behind it."""
    throttle: LoginThrottle = request.app.state.password_throttle
    key = f"user:{principal.user_id}"
    if wait := throttle.retry_after(key):
        raise ProblemError(
            429,
            f"too many wrong current passwords; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        right = accounts.password_matches(
            store.get_user(s, principal.user_id).password_hash, body.current_password
        )
    with ctx.db.session() as s:
        user = store.get_user(s, principal.user_id)
        if not right:
            audit.record(
                s, principal.actor, "user.password.failed", "user", user.id,
                details={"client": client_address(request)},
            )  # fmt: skip
        else:
            accounts.change_password(s, principal.actor, user, body.new_password)
    if not right:
        throttle.failed(key)
        raise ProblemError(403, "the current password is wrong")
    throttle.succeeded(key)
    return Response(status_code=204)


@router.get("/{user_id}", response_model=UserOut, summary="One user")
def get_user(
    request: Request,
    user_id: RowId,
    _: Annotated[Principal, Depends(require("users:admin"))],
) -> UserOut:
    with _ctx(request).db.session(readonly=True) as s:
        return user_out(store.get_user(s, user_id))


@router.patch("/{user_id}", response_model=UserOut, summary="Change role, active, password")
def patch_user(
    request: Request,
    user_id: RowId,
    body: UserPatch,
    principal: Annotated[Principal, Depends(require("users:admin"))],
) -> UserOut:
    with _ctx(request).db.session() as s:
        user = store.get_user(s, user_id)
        accounts.update_user(
            s, principal.actor, user, role=body.role, active=body.active, reason=body.reason
        )
        if body.password is not None:
            accounts.change_password(s, principal.actor, user, body.password, reason=body.reason)
        return user_out(user)
