"""Reading the audit chain page by page, newest first, for the console's audit page.

Appending and verifying (the hash chain's rules) stay in ``watchkeeper.policy.audit``; this
module holds the queries they and the console need: the events page by page, filtered by what
an auditor usually asks (which kind of action, whose), the chain's last link and its lock.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
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


# A fixed key for PostgreSQL's advisory lock: appends to the chain are serialised across
# processes (two writers would otherwise both extend the same head).
_CHAIN_LOCK_KEY = 0x5741_5443_484B_4155


def lock_chain(session: Session) -> None:
    """Hold the chain's append lock until the transaction ends (PostgreSQL; SQLite locks
    the whole database on write anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY)))


def last_link(session: Session) -> tuple[int, str] | None:
    """The newest event's sequence number and hash, or None for an empty chain."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return None if row is None else (int(row.seq), str(row.hash))


def events_in_order(session: Session) -> Iterator[AuditEvent]:
    """Every event, oldest first, read in batches (the chain may be long)."""
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)
    yield from session.scalars(query)
