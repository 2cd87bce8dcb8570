"""Serving the console: one route per page, the login page, and the static assets.

Every page names the permission it needs. A visitor without a session is sent to the login
page (and back afterwards); a user whose role lacks the permission gets a 403 page, not the
page, so typing an admin page's address is refused by the server as well as hidden from the
navigation. Everything the pages show comes from the API, which checks again.

Pages carry a strict Content-Security-Policy: scripts and styles come only from
``/static`` (no inline code), so a name like ``<script>`` entered into a watchlist can never
run, even if some page forgot to escape it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from watchkeeper import __version__
from watchkeeper.api.auth import Principal, authenticate
from watchkeeper.api.problems import ProblemError

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; media-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    title: str
    permission: str
    template: str
    script: str


# In navigation order; the first a user may open is their home page.
PAGES: tuple[Page, ...] = (
    Page("/alerts", "Live alerts", "events:read", "alerts.html", "alerts.js"),
    Page("/cameras", "Cameras", "cameras:read", "cameras.html", "cameras.js"),
    Page("/watchlists", "Watchlists", "watchlists:read", "watchlists.html", "watchlists.js"),
    Page("/persons", "Persons", "persons:read", "persons.html", "persons.js"),
    Page("/history", "History", "alerts:read", "history.html", "history.js"),
    Page("/cases", "Investigations", "cases:read", "cases.html", "cases.js"),
    Page("/audit", "Audit", "audit:read", "audit.html", "audit.js"),
    Page("/users", "Users", "users:admin", "users.html", "users.js"),
)

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
router = APIRouter(include_in_schema=False)


def mount(app: FastAPI) -> None:
    """Serve the console from ``app``: pages at ``/``, assets at ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")


def _render(
    template: str, principal: Principal | None, status: int = 200, **values: Any
) -> HTMLResponse:
    nav = [p for p in PAGES if principal is not None and principal.can(p.permission)]
    html = _templates.get_template(template).render(
        principal=principal,
        nav=nav,
        permissions=" ".join(sorted(principal.scopes)) if principal else "",
        version=__version__,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _principal(request: Request) -> Principal | None:
    """The logged-in user, or None when there is no (valid) session."""
    try:
        return authenticate(request)
    except ProblemError as exc:
        if exc.status == 401:
            return None
        raise


def _safe_next(target: str | None) -> str:
    """Only a path on this site, else ``/``: anything else after login is an open redirect.

    Browsers are lenient with what they are given: they drop tabs and newlines anywhere
    (``/<TAB>/evil.example`` becomes ``//evil.example``), strip leading spaces and control
    characters, and read ``\\`` as ``/``. So a target must be printable ASCII without
    spaces or backslashes, start with exactly one ``/``, and name no scheme or host. Percent
    escapes stay escaped in the link, where a browser never decodes them into a host.
    """
    if (
        not target
        or not all("!" <= ch <= "~" for ch in target)
        or "\\" in target
        or not target.startswith("/")
        or target.startswith("//")
    ):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _to_login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


def _page_route(page: Page) -> Callable[[Request], Response]:
    def show(request: Request) -> Response:
        principal = _principal(request)
        if principal is None:
            return _to_login(request)
        if not principal.can(page.permission):
            return _render("forbidden.html", principal, status=403, page=page)
        return _render(page.template, principal, page=page)

    show.__name__ = f"page_{page.path.strip('/')}"
    return show


for _page in PAGES:
    router.add_api_route(_page.path, _page_route(_page), methods=["GET"])


@router.get("/")
def home(request: Request) -> Response:
    principal = _principal(request)
    if principal is None:
        return _to_login(request)
    first = next((p for p in PAGES if principal.can(p.permission)), None)
    if first is None:
        return _render("forbidden.html", principal, status=403, page=None)
    return RedirectResponse(first.path, status_code=303)


@router.get("/login")
def login_page(
    request: Request, target: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    return _render("login.html", _principal(request), target=_safe_next(target))
