"""Reading and verifying the audit chain over HTTP (the console's audit page).

``GET /audit/events`` pages through the events newest first; ``GET /audit/verify`` walks the
whole chain (``policy.audit.verify``) and names the first broken link, so an auditor sees in
the browser what ``watchkeeper audit verify`` says on the server. Both need ``audit:read``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.context import AppContext
from watchkeeper.policy import anchors
from watchkeeper.store import audit_log
from watchkeeper.store.models import AuditEvent

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEventOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    reason: str | None
    details: Any = Field(description="The JSON details recorded with the action.")
    prev_hash: str
    hash: str


class ChainOut(BaseModel):
    ok: bool
    checked: int = Field(description="Events verified before the first break (all when ok).")
    first_broken_seq: int | None
    problem: str | None
    head_seq: int
    head_hash: str
    published_seq: int | None = Field(
        default=None, description="The newest published head the chain was checked against."
    )
    published_at: datetime | None = Field(default=None, description="When it was published.")


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


@router.get("/events", response_model=Page[AuditEventOut], summary="Audit events, newest first")
def list_events(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("audit:read"))],
    action: Annotated[
        str | None, Query(max_length=100, description="Only actions starting with this.")
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="Only actors containing this.")
    ] = None,
) -> Page[AuditEventOut]:
    with _ctx(request).db.session(readonly=True) as s:
        rows = audit_log.page_events(s, page.after, page.limit + 1, action, actor)
        items = [_event_out(e) for e in rows]
    return paginate(request, items, page, key=lambda e: e.seq)


def _event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        reason=event.reason,
        details=None if event.details is None else json.loads(event.details),
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


@router.get("/verify", response_model=ChainOut, summary="Verify the whole hash chain")
def verify(request: Request, _: Annotated[Principal, Depends(require("audit:read"))]) -> ChainOut:
    ctx = _ctx(request)
    with ctx.db.session(readonly=True) as s:
        report, published = anchors.verify_with_published(s, ctx.settings)
    return ChainOut(
        published_seq=None if published is None else published.seq,
        published_at=None if published is None else published.at,
        ok=report.ok,
        checked=report.checked,
        first_broken_seq=report.first_broken_seq,
        problem=report.problem,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
    )
