"""Who is calling, and may they: every endpoint depends on ``require("<permission>")``.

Two kinds of credential:

- **API keys** (machines): header ``Authorization: Bearer wk_<prefix>_<secret>``. A key acts
  with its scopes, cut to what its owner's role allows today. No CSRF check: a browser never
  adds this header by itself, so another site cannot make it send one.
- **Sessions** (browsers): cookie ``wk_session`` from ``POST /api/v1/auth/login``. Because
  a browser sends cookies with any request, unsafe methods (POST, PUT, PATCH, DELETE) must
  also carry header ``X-CSRF-Token`` equal to the session's token (given at login and in the
  readable cookie ``wk_csrf``): another site can make the browser send the cookie, not read
  the token. The cookie is also ``SameSite=Strict``; the token is the second lock, and a
  third is the browser's ``Origin``/``Referer``: an unsafe request with the cookie from a
  page of another site is refused (``api.clients.foreign_origin``).

``require`` marks the dependency it returns with the permission it checks, so a test can
walk every route and prove that each one declares a permission.

Usage::

    @router.get("/watchlists")
    def list_watchlists(principal: Annotated[Principal, Depends(require("watchlists:read"))]):
        ...
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import Request

from watchkeeper.api.clients import foreign_origin
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import accounts
from watchkeeper.policy.roles import PERMISSIONS, permissions_of

SESSION_COOKIE = "wk_session"
CSRF_COOKIE = "wk_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_seen_at / last_used_at are written at most this often, so that reads stay reads.
TOUCH_INTERVAL = timedelta(seconds=60)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="watchkeeper"'}


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, after authentication."""

    user_id: int
    username: str
    role: str
    via: Literal["session", "api_key"]
    scopes: frozenset[str]  # the permissions this request may use
    api_key_id: int | None = None

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log."""
        if self.via == "api_key":
            return f"user:{self.username} (api key {self.api_key_id})"
        return f"user:{self.username}"

    def can(self, permission: str) -> bool:
        return permission in self.scopes


def require(permission: str) -> Callable[[Request], Principal]:
    """A dependency that returns the caller, or answers 401 (who are you?) / 403 (not you)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"permission {permission!r} is not in policy.roles.PERMISSIONS")

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not principal.can(permission):
            raise ProblemError(
                403,
                f"{principal.username} ({principal.role}"
                f"{', API key' if principal.via == 'api_key' else ''}) lacks permission "
                f"{permission}",
            )
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


def permission_of(call: object) -> str | None:
    """The permission a dependency made by :func:`require` checks (None for others)."""
    value = getattr(call, "permission", None)
    return value if isinstance(value, str) else None


def authenticate(request: Request) -> Principal:
    """The caller from the API key or the session cookie; raises 401 or (CSRF) 403."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    header = request.headers.get("authorization")
    if header is not None:
        principal = _from_api_key(request, header)
    elif token := request.cookies.get(SESSION_COOKIE):
        principal = _from_session(request, token)
    else:
        raise ProblemError(
            401,
            "authentication required: log in, or send 'Authorization: Bearer <API key>'",
            headers=_CHALLENGE,
        )
    request.state.principal = principal
    return principal


def _ctx(request: Request) -> AppContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx


def _from_api_key(request: Request, header: str) -> Principal:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(
            401, "the Authorization header must be 'Bearer <API key>'", headers=_CHALLENGE
        )
    ctx, now = _ctx(request), datetime.now(UTC)
    with ctx.db.session(readonly=True) as s:
        key = accounts.resolve_api_key(s, token.strip())
        if key is None:
            raise ProblemError(
                401, "the API key is unknown, revoked or its user disabled", headers=_CHALLENGE
            )
        principal = Principal(
            key.user.id, key.user.username, key.user.role, "api_key",
            accounts.key_permissions(key), key.id,
        )  # fmt: skip
        stale = key.last_used_at is None or now - key.last_used_at > TOUCH_INTERVAL
    if stale:
        with ctx.db.session() as s:
            accounts.touch_api_key(s, key.id, now)
    return principal


def _from_session(request: Request, token: str) -> Principal:
    ctx, now = _ctx(request), datetime.now(UTC)
    idle = timedelta(minutes=ctx.settings.api.session_idle_minutes)
    with ctx.db.session(readonly=True) as s:
        row, why = accounts.resolve_session(s, token, now, idle)
        if row is None:
            raise ProblemError(401, why or "log in", headers=_CHALLENGE)
        user = row.user
        principal = Principal(
            user.id, user.username, user.role, "session", permissions_of(user.role)
        )
        csrf, session_id = row.csrf_token, row.id
        stale = now - row.last_seen_at > TOUCH_INTERVAL
    if request.method not in SAFE_METHODS:
        if (site := foreign_origin(request)) is not None:
            raise ProblemError(
                403, f"a change from a page of another site ({site}) is refused: use this site"
            )
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise ProblemError(
                403,
                f"missing or wrong {CSRF_HEADER} header: send the token from login "
                f"(also in the {CSRF_COOKIE} cookie) with every change",
            )
    if stale:
        with ctx.db.session() as s:
            accounts.touch_session(s, session_id, now)
    request.state.session_id = session_id
    return principal
