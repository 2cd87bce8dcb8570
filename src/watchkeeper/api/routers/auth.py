"""Logging in and out of a browser session, and asking who one is.

Login takes JSON or an HTML form, so the console's login page works without JavaScript.
Every attempt is audited (``auth.login``, ``auth.login.failed``, ``auth.login.limited``,
``auth.login.refused``); the password never is. Failures slow down the client that makes
them, in all and at that account, never the account itself (``api.limits.LoginThrottle``);
the client's address is believed from X-Forwarded-For only behind ``api.trusted_proxies``
(``api.clients``). A login posted from a page of another site is refused (login CSRF: it
would log the victim's browser into the attacker's account).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from watchkeeper.api.auth import CSRF_COOKIE, SESSION_COOKIE, Principal, require
from watchkeeper.api.clients import client_address, foreign_origin, throttle_key
from watchkeeper.api.limits import LoginThrottle
from watchkeeper.api.metrics import Metrics
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import accounts, audit
from watchkeeper.store import auth as store

router = APIRouter(prefix="/auth", tags=["authentication"])

_AUDIT_NAME_LIMIT = 100  # an attacker's 10 kB "username" is clipped in the audit log
# A refused login names what was typed, which may be no account or look like another's id:
# it is audited as a username, never as the user (whose object id is the account's number).
TYPED = "username"


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=accounts.MAX_PASSWORD_LENGTH)


class LoginOut(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="Send as header X-CSRF-Token with every change.")
    expires_at: datetime


class MeOut(BaseModel):
    id: int
    username: str
    role: str
    via: str
    permissions: list[str]


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in (JSON or form); sets the session cookie",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginIn.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": LoginIn.model_json_schema()},
            },
        }
    },
)
async def login(request: Request, response: Response) -> LoginOut:
    client = client_address(request)
    if (site := foreign_origin(request)) is not None:
        await run_in_threadpool(_refuse_foreign, request, site, client)
    credentials = await _read_credentials(request)
    outcome = await run_in_threadpool(_login, request, credentials, client)
    settings = request.app.state.ctx.settings.api
    max_age = int(timedelta(hours=settings.session_max_hours).total_seconds())
    for name, value, http_only in (
        (SESSION_COOKIE, outcome[0], True),
        (CSRF_COOKIE, outcome[1].csrf_token, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=settings.cookie_secure,
            httponly=http_only,
            samesite="strict",
        )
    return outcome[1]


def _refuse_foreign(request: Request, site: str, client: str) -> None:
    ctx: AppContext = request.app.state.ctx
    with ctx.db.session() as s:
        audit.record(
            s, "anonymous", "auth.login.refused", "user", None,
            details={"client": client, "origin": site},
        )  # fmt: skip
    raise ProblemError(403, f"a login from a page of another site ({site}) is refused")


def _login(request: Request, credentials: LoginIn, client: str) -> tuple[str, LoginOut]:
    ctx: AppContext = request.app.state.ctx
    limiter: LoginThrottle = request.app.state.login_throttle
    metrics: Metrics = request.app.state.metrics
    username = credentials.username
    counted = throttle_key(client)
    keys = (f"ip:{counted}", f"pair:{counted}|{username}")
    shown = username[:_AUDIT_NAME_LIMIT]
    wait = limiter.retry_after(*keys)
    if wait:
        metrics.logins.labels("limited").inc()
        with ctx.db.session() as s:
            audit.record(
                s, "anonymous", "auth.login.limited", TYPED, shown, details={"client": client}
            )
        raise ProblemError(
            429,
            f"too many failed logins from this client; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    now = datetime.now(UTC)
    max_age = timedelta(hours=ctx.settings.api.session_max_hours)
    # The password is checked outside the write transaction: argon2 takes tens of
    # milliseconds on purpose, and SQLite's single write lock must not wait for it.
    with ctx.db.session(readonly=True) as s:
        found = accounts.authenticate(s, username, credentials.password)
        user_id = None if found is None else found.id
    if user_id is not None:
        with ctx.db.session() as s:
            user = store.get_user(s, user_id)
            idle = timedelta(minutes=ctx.settings.api.session_idle_minutes)
            issued = accounts.start_session(s, user, now, max_age, idle)
            audit.record(
                s, f"user:{user.username}", "auth.login", "user", user.id,
                details={"client": client},
            )  # fmt: skip
            out = LoginOut(
                username=user.username,
                role=user.role,
                csrf_token=issued.csrf_token,
                expires_at=issued.expires_at,
            )
    if user_id is None:
        limiter.failed(*keys)
        metrics.logins.labels("failed").inc()
        with ctx.db.session() as s:
            audit.record(
                s, "anonymous", "auth.login.failed", TYPED, shown,
                details={"client": client},
            )  # fmt: skip
        raise ProblemError(401, "wrong username or password, or the account is disabled")
    limiter.succeeded(keys[1])
    metrics.logins.labels("ok").inc()
    return issued.token, out


async def _read_credentials(request: Request) -> LoginIn:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/json":
            return LoginIn.model_validate_json(await request.body())
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            return LoginIn.model_validate(
                {"username": form.get("username"), "password": form.get("password")}
            )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ProblemError(422, problems, title="Invalid request") from None
    raise ProblemError(415, "send the credentials as application/json or a form")


@router.post("/logout", status_code=204, summary="End this browser session")
def logout(
    request: Request,
    principal: Annotated[Principal, Depends(require("account:self"))],
) -> Response:
    ctx: AppContext = request.app.state.ctx
    session_id = getattr(request.state, "session_id", None)
    if session_id is not None:
        with ctx.db.session() as s:
            accounts.end_session(s, principal.actor, session_id)
    settings = ctx.settings.api
    out = Response(status_code=204)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        out.delete_cookie(name, path="/", secure=settings.cookie_secure, samesite="strict")
    return out


@router.get("/me", response_model=MeOut, summary="The caller and what they may do")
def me(principal: Annotated[Principal, Depends(require("account:self"))]) -> MeOut:
    return MeOut(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        via=principal.via,
        permissions=sorted(principal.scopes),
    )
