"""Publishing the audit chain's head, so that a cut or rewritten chain is caught without --anchor.

The hash chain (:mod:`watchkeeper.policy.audit`) uses no secret: whoever can write to the
database can delete the newest events, or edit one and recompute every hash after it, and
the chain still verifies. What such a writer cannot undo is a head that already left the
database. So after a transaction that appended audit events commits, the head (sequence
number and hash) is published when ``policy.audit_publish_events`` events have been added
or ``policy.audit_publish_minutes`` have passed since the last publication:

- to an append-only file of JSON lines (``policy.audit_heads_file``, by default
  ``<data_dir>/audit-heads.jsonl``; put it on another machine's mount, or make it append-only
  with ``chattr +a``, so that the database's writers cannot rewrite it);
- with ``policy.audit_publish_notifications``, to the notification outbox, for every
  configured webhook and MQTT broker (event ``audit.head``), so that a receiver outside the
  installation keeps a copy.

``audit verify`` reads the newest line of the file and checks that the chain still holds that
head: a chain that ends before it lost events, a chain whose event differs from it was
rewritten. Events after the newest published head remain unprotected until the next
publication: that window is what the two settings bound.

A failure to publish never undoes the user's action (it already committed); it is logged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.config import Settings
from watchkeeper.policy.audit import AUDIT_HEAD_KEY, ChainHead, ChainReport, verify
from watchkeeper.store import Database, outbox

log = logging.getLogger(__name__)

HEADS_FILE = "audit-heads.jsonl"
_TAIL_BYTES = 4096  # many lines of ~130 bytes: the newest complete one is in there
EVENT = "audit.head"


@dataclass(frozen=True, slots=True)
class PublishedHead:
    """A head as it was published: what ``verify`` checks the chain against."""

    seq: int
    hash: str
    at: datetime

    @property
    def head(self) -> ChainHead:
        return ChainHead(self.seq, self.hash)

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.at


def heads_file(settings: Settings) -> Path:
    return settings.policy.audit_heads_file or settings.data_dir / HEADS_FILE


def last_published(path: Path) -> PublishedHead | None:
    """The newest head in the file; None when nothing was published (or no file).

    Only the file's tail is read: it grows by a line per publication, for years.
    """
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - _TAIL_BYTES))
            tail = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    lines = tail.splitlines()[1:] if size > _TAIL_BYTES else tail.splitlines()
    for line in reversed(lines):
        try:
            item = json.loads(line)
            return PublishedHead(int(item["seq"]), str(item["hash"]), _parse_time(item["at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("skipping an unreadable line of %s: %.80r", path, line)
    return None


class HeadPublisher:
    """Publishes the chain head after commits, at most every N events or M minutes."""

    def __init__(
        self,
        path: Path,
        every_events: int,
        every_minutes: float,
        targets: list[tuple[str, str]] | None = None,
    ) -> None:
        self.path = path
        self.every_events = every_events
        self.every = timedelta(minutes=every_minutes)
        self.targets = targets or []  # (channel, address) of the outbox's receivers
        self._lock = threading.Lock()

    def after_commit(self, db: Database, info: dict[str, Any]) -> None:
        """``Database.after_commit`` hook: publish the head a committed session appended."""
        head = info.get(AUDIT_HEAD_KEY)
        if not isinstance(head, ChainHead):
            return
        try:
            self.publish_if_due(db, head)
        except Exception:  # the action committed: never fail it, but say so loudly
            log.exception("could not publish audit head %d to %s", head.seq, self.path)

    def publish_if_due(self, db: Database, head: ChainHead, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        with self._lock:
            # the file, not memory: the API, the service and the CLI all publish to it
            last = last_published(self.path)
            if last is not None and head.seq <= last.seq:
                return False  # an older commit finishing late: a newer head is out already
            due = (
                last is None
                or head.seq - last.seq >= self.every_events
                or now - last.at >= self.every
            )
            if not due:
                return False
            published = PublishedHead(head.seq, head.hash, now)
            self._append(published)
        if self.targets:
            payload = {
                "event": EVENT,
                "audit_head": {"seq": head.seq, "hash": head.hash, "at": now.isoformat()},
            }
            with db.session() as s:
                for channel, address in self.targets:
                    outbox.enqueue_notice(s, f"audit-head-{head.seq}", channel, address, payload)
        return True

    def _append(self, published: PublishedHead) -> None:
        line = json.dumps(
            {"seq": published.seq, "hash": published.hash, "at": published.at.isoformat()},
            separators=(",", ":"),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def publisher_for(settings: Settings) -> HeadPublisher:
    """The publisher an installation's settings describe (file and outbox receivers)."""
    policy = settings.policy
    targets = []
    if policy.audit_publish_notifications:
        targets = [(t.channel, t.address) for t in outbox.targets_of(settings.notifications)]
    return HeadPublisher(
        heads_file(settings), policy.audit_publish_events, policy.audit_publish_minutes, targets
    )


def verify_with_published(
    session: Session, settings: Settings, anchor: ChainHead | None = None
) -> tuple[ChainReport, PublishedHead | None]:
    """Verify the chain, with ``anchor`` if given and against the newest published head."""
    published = last_published(heads_file(settings))
    report = verify(session, anchor)
    if report.ok and published is not None:
        report = verify(session, published.head)
        if not report.ok:
            report = replace(
                report, problem=f"{report.problem} (published {describe_age(published)})"
            )
    return report, published


def describe_age(published: PublishedHead, now: datetime | None = None) -> str:
    """``2026-11-29T16:02:03+00:00, 4 minutes ago``: when a head was published."""
    seconds = max(0, int(published.age(now).total_seconds()))
    if seconds < 120:
        ago = f"{seconds} seconds ago"
    elif seconds < 7200:
        ago = f"{seconds // 60} minutes ago"
    elif seconds < 172_800:
        ago = f"{seconds // 3600} hours ago"
    else:
        ago = f"{seconds // 86_400} days ago"
    return f"{published.at.isoformat(timespec='seconds')}, {ago}"


def _parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
