"""Four-eyes approvals: wanted-person enrolments and exports wait for a second supervisor.

Deciding needs ``persons:write`` *and* the supervisor role, and never one's own request
(``policy.approvals``). An approved audit export is collected, once, by its requester.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from watchkeeper.api.auth import Principal, require
from watchkeeper.api.params import RowId
from watchkeeper.api.problems import ProblemError
from watchkeeper.context import AppContext
from watchkeeper.policy import approvals
from watchkeeper.policy.exports import export_audit_to
from watchkeeper.store import policy as policy_store
from watchkeeper.store.policy import Approval
from watchkeeper.usecases.approvals import approve_request, reject_request

router = APIRouter(prefix="/approvals", tags=["approvals"])


class ApprovalOut(BaseModel):
    id: int
    kind: str
    object_type: str
    object_id: str
    details: dict[str, Any] | None
    reason: str | None
    state: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    rejected_by: str | None
    rejected_at: datetime | None
    decision_reason: str | None
    used_at: datetime | None


class Decision(BaseModel):
    comment: str | None = Field(default=None, max_length=1000)


class Rejection(BaseModel):
    reason: str = Field(min_length=3, max_length=1000)


class ExportRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="Why the log must leave.")


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def approval_out(row: Approval) -> ApprovalOut:
    return ApprovalOut(**approvals.describe(row))


def _refused(exc: approvals.ApprovalError) -> ProblemError:
    forbidden = isinstance(exc, approvals.ApprovalForbidden)
    return ProblemError(403 if forbidden else 409, str(exc))


@router.get("", response_model=list[ApprovalOut], summary="List approval requests")
def list_approvals(
    request: Request,
    _: Annotated[Principal, Depends(require("persons:read"))],
    state: Literal["pending", "approved", "rejected"] | None = None,
) -> list[ApprovalOut]:
    with _ctx(request).db.session(readonly=True) as s:
        return [approval_out(a) for a in policy_store.list_approvals(s, state=state)]


@router.post("/{approval_id}/approve", response_model=ApprovalOut, summary="Approve")
def approve(
    request: Request,
    approval_id: RowId,
    body: Decision,
    principal: Annotated[Principal, Depends(require("persons:write"))],
) -> ApprovalOut:
    try:
        decided = approve_request(
            _ctx(request).db, principal.actor, approval_id, body.comment, principal.role
        )
    except approvals.ApprovalError as exc:
        raise _refused(exc) from None
    return ApprovalOut(**decided)


@router.post("/{approval_id}/reject", response_model=ApprovalOut, summary="Reject")
def reject(
    request: Request,
    approval_id: RowId,
    body: Rejection,
    principal: Annotated[Principal, Depends(require("persons:write"))],
) -> ApprovalOut:
    ctx = _ctx(request)
    try:
        decided = reject_request(
            ctx.db, ctx.media, principal.actor, approval_id, body.reason, principal.role
        )
    except approvals.ApprovalError as exc:
        raise _refused(exc) from None
    return ApprovalOut(**decided)


@router.post(
    "/exports", response_model=ApprovalOut, status_code=201, summary="Ask to export the audit log"
)
def request_export(
    request: Request,
    body: ExportRequest,
    principal: Annotated[Principal, Depends(require("audit:read"))],
) -> ApprovalOut:
    with _ctx(request).db.session() as s:
        row = approvals.request(s, "export", "audit", "all", principal.actor, reason=body.reason)
        return approval_out(row)


@router.post(
    "/{approval_id}/export",
    summary="Collect an approved audit export (once), as JSON lines",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def collect_export(
    request: Request,
    approval_id: RowId,
    principal: Annotated[Principal, Depends(require("audit:read"))],
) -> Response:
    collected: list[bytes] = []
    try:
        result = export_audit_to(_ctx(request).db, approval_id, principal.actor, collected.append)
    except approvals.ApprovalError as exc:
        raise _refused(exc) from None
    return Response(
        collected[0],
        media_type="application/x-ndjson",
        headers={"X-Audit-Head": result.head, "X-Content-SHA256": result.sha256},
    )
