"""Reading the audit chain page by page, newest first, for the console's audit page.

Appending and verifying stay in ``watchkeeper.policy.audit``; this module only answers
"show me the events", filtered by what an auditor usually asks: which kind of action, whose.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.store.models import AuditEvent


def page_events(
    session: Session,
    before_seq: int | None,
    limit: int,
    action: str | None = None,
    actor: str | None = None,
) -> list[AuditEvent]:
    """Events older than ``before_seq`` (newest first); ``action`` is a prefix
    (``alert.`` finds every alert action), ``actor`` a literal part of the actor."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(AuditEvent.actor.contains(actor, autoescape=True))
    return list(session.scalars(query))
