"""``GET /api/v1/notifications/outbox``: what the outbox still owes, and what went wrong.

For operations: a webhook receiver that has been failing shows here with its attempts and
last error, long before anyone notices missing alerts downstream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.pagination import Page, PageParams, page_params, paginate
from watchkeeper.context import AppContext
from watchkeeper.store import outbox
from watchkeeper.streams.base import redact

router = APIRouter(prefix="/notifications", tags=["notifications"])


class OutboxOut(BaseModel):
    id: int
    alert_id: int | None = Field(description="None: a notice, e.g. the published audit head.")
    channel: str
    target: str
    idempotency_key: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime


@router.get("/outbox", response_model=Page[OutboxOut], summary="Notification deliveries")
def list_outbox(
    request: Request,
    page: Annotated[PageParams, Depends(page_params)],
    _: Annotated[Principal, Depends(require("system:read"))],
    pending: bool = False,
) -> Page[OutboxOut]:
    ctx: AppContext = request.app.state.ctx
    with ctx.db.session(readonly=True) as s:
        rows = outbox.list_messages(s, pending, page.after, page.limit + 1)
        items = [
            OutboxOut(
                id=m.id,
                alert_id=m.alert_id,
                channel=m.channel,
                target=redact(m.target),
                idempotency_key=m.idempotency_key,
                attempts=m.attempts,
                next_attempt_at=m.next_attempt_at,
                delivered_at=m.delivered_at,
                last_error=m.last_error,
                created_at=m.created_at,
            )
            for m in rows
        ]
    return paginate(request, items, page, key=lambda m: m.id)
