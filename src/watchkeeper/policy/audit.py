"""Tamper-evident audit log: an append-only hash chain in the ``audit_events`` table.

Every sensitive action calls :func:`record` inside the same session as the change it records,
so the change and its record commit together or not at all. Each event stores the hash of
the one before it, and its own hash covers its sequence number, time, actor, action, object,
reason, details and that previous hash (SHA-256 over canonical JSON). :func:`verify` walks
the chain and names the first sequence number where it breaks: an edited row (its hash no
longer matches its content), a deleted row (a gap in ``seq``), an inserted or reordered row
(its ``prev_hash`` no longer matches its predecessor).

What the chain alone cannot detect: the hashes use no secret, so someone who can write to
the database can cut off the newest events (truncation leaves a shorter chain that is still
valid) or recompute every hash after a change. The answer is to export the head
(:func:`head`: sequence number and hash) regularly to a place the database's writers cannot
alter (a log server, a printed report, a regulator's mailbox, a timestamping service) and
pass it to :func:`verify` as ``anchor``: a truncated or rewritten chain no longer contains it.

Concurrency: sequence numbers must be strictly consecutive, so appends are serialised.
On PostgreSQL :func:`record` takes a transaction-level advisory lock before reading the head;
the lock is released when the transaction ends. SQLite needs nothing more: it has a single
writer at a time, and ``Database.session()`` takes that write lock when the transaction
begins (``BEGIN IMMEDIATE``), so no other transaction can append between reading the head and
writing the event. (Recording in a ``session(readonly=True)`` loses that guarantee.) In every
case the primary key on ``seq`` stops two events from taking the same number: an append can
fail, the chain can never fork.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.store import audit_log
from watchkeeper.store.models import AuditEvent

GENESIS_HASH = "0" * 64
AUDIT_HEAD_KEY = "watchkeeper.audit_head"  # Session.info: the head this session appended


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest event's sequence number and hash; ``(0, GENESIS_HASH)`` for an empty log."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int  # events verified before the first break (all of them when ok)
    first_broken_seq: int | None
    problem: str | None
    head_seq: int
    head_hash: str


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    audit_log.lock_chain(session)
    last = head(session)
    try:
        details_json = None if details is None else _canonical(details)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details of {action} must be plain JSON values: {exc}") from exc
    event = AuditEvent(
        seq=last.seq + 1,
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        reason=reason,
        details=details_json,
        prev_hash=last.hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    session.info[AUDIT_HEAD_KEY] = ChainHead(event.seq, event.hash)  # published after commit
    return event


def head(session: Session) -> ChainHead:
    """The newest event, to export and later pass to :func:`verify` as ``anchor``."""
    link = audit_log.last_link(session)
    return ChainHead(0, GENESIS_HASH) if link is None else ChainHead(*link)


def verify(session: Session, anchor: ChainHead | None = None) -> ChainReport:
    """Check the whole chain (and that it still contains ``anchor``, an exported head)."""
    last = head(session)

    def broken(seq: int, checked: int, problem: str) -> ChainReport:
        return ChainReport(False, checked, seq, problem, last.seq, last.hash)

    expected, prev_hash, anchor_hash = 1, GENESIS_HASH, None
    for event in audit_log.events_in_order(session):
        checked = expected - 1
        if event.seq != expected:
            return broken(expected, checked, f"event {expected} is missing (next is {event.seq})")
        if event.prev_hash != prev_hash:
            return broken(
                expected,
                checked,
                f"event {expected} does not follow event {expected - 1} (prev_hash differs): "
                "an event was removed, inserted or moved here",
            )
        if not _intact(event):
            return broken(expected, checked, f"event {expected} was altered (hash mismatch)")
        if anchor is not None and event.seq == anchor.seq:
            anchor_hash = event.hash
        prev_hash = event.hash
        expected += 1
    checked = expected - 1
    if anchor is not None and anchor.seq > 0:
        if anchor.seq > last.seq:
            return broken(
                last.seq + 1,
                checked,
                f"the chain ends at event {last.seq} but the exported head is event "
                f"{anchor.seq}: the newest events were removed",
            )
        if anchor_hash != anchor.hash:
            return broken(
                anchor.seq,
                checked,
                f"event {anchor.seq} differs from the exported head: the chain was rewritten",
            )
    return ChainReport(True, checked, None, None, last.seq, last.hash)


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) of the canonical JSON of everything an event says, and its predecessor."""
    document = {
        "seq": event.seq,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "reason": event.reason,
        "details": None if event.details is None else json.loads(event.details),
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical(document).encode("utf-8")).hexdigest()


def _intact(event: AuditEvent) -> bool:
    try:
        return event_hash(event) == event.hash
    except ValueError:  # details edited into something that is not JSON
        return False


def _canonical(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
