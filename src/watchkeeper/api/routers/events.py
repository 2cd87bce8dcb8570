"""``GET /api/v1/events``: the live event stream (Server-Sent Events).

Events: ``alert.created``, ``alert.updated`` (a folded sighting, a review), ``camera.status``
(a camera's state changed), and ``crowd.alert.created`` / ``crowd.alert.updated`` (a zone
limit passed; an acknowledgement). Each carries an ``id``; a client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` does it by itself) first gets what it missed, as
far as the in-memory history reaches. A comment line is sent every ``KEEPALIVE_S`` seconds so
that proxies keep the connection open. A caller sees only the events its permissions cover:
alert events need ``alerts:read``, camera and crowd events ``cameras:read`` (crowd alerts
carry counts only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from watchkeeper.alerts import Event
from watchkeeper.api.auth import Principal, require
from watchkeeper.api.live import runtime
from watchkeeper.api.problems import ProblemError
from watchkeeper.api.responses import dumps

router = APIRouter(tags=["events"])

KEEPALIVE_S = 15.0
RETRY_MS = 3000
NEEDS = {"alert": "alerts:read", "camera": "cameras:read", "crowd": "cameras:read"}


def format_event(event: Event) -> str:
    return f"id: {event.id}\nevent: {event.type}\ndata: {dumps(event.data).decode()}\n\n"


@router.get(
    "/events",
    summary="Live events (text/event-stream): alert.*, camera.status, crowd.alert.*",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    principal: Annotated[Principal, Depends(require("events:read"))],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
) -> StreamingResponse:
    live = runtime(request)
    if live is None:
        raise ProblemError(503, "live events are served only by 'watchkeeper serve'")
    broker = live.broker
    allowed = {kind for kind, permission in NEEDS.items() if principal.can(permission)}

    def visible(event: Event) -> bool:
        return event.type.partition(".")[0] in allowed

    async def stream() -> AsyncIterator[str]:
        subscription, backlog = broker.subscribe(last_event_id)
        try:
            yield f"retry: {RETRY_MS}\n\n"
            for event in backlog:
                if visible(event):
                    yield format_event(event)
            while subscription.open:
                event = await subscription.get(KEEPALIVE_S)
                if not subscription.open:
                    return
                if event is None:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                elif visible(event):
                    yield format_event(event)
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
