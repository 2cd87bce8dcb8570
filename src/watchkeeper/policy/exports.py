"""Exports of the audit log, performed only under an approved four-eyes request.

An export takes data out of the system's control, so it needs a second person's approval
(``approval`` of kind ``export``); the export spends the approval, and the export itself is
audited with the SHA-256 of what was written, in the same transaction. The file is JSON
lines: one event per line, exactly as stored, so that the chain can be verified outside.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.policy import approvals, audit
from watchkeeper.store import Database, StoreError, audit_log


@dataclass(frozen=True, slots=True)
class ExportResult:
    events: int
    sha256: str
    head: str


def export_audit(db: Database, approval_id: int, actor: str, out: Path) -> ExportResult:
    """Write the whole audit chain to ``out`` under approval ``approval_id``."""
    return export_audit_to(db, approval_id, actor, lambda data: _write_atomically(out, data))


def export_audit_to(
    db: Database, approval_id: int, actor: str, deliver: Callable[[bytes], None]
) -> ExportResult:
    """Hand the audit chain (JSON lines) to ``deliver`` inside the export's transaction.

    If ``deliver`` raises, the approval stays unused and nothing is recorded.
    """
    with db.session() as s:
        approvals.use_export(s, approval_id, actor, "audit")
        lines = [
            json.dumps(
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(timespec="microseconds"),
                    "actor": e.actor,
                    "action": e.action,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                    "reason": e.reason,
                    "details": e.details,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                },
                ensure_ascii=False,
            )
            for e in audit_log.events_in_order(s)
        ]
        data = ("\n".join(lines) + "\n").encode("utf-8")
        head = audit.head(s)
        digest = hashlib.sha256(data).hexdigest()
        deliver(data)
        audit.record(
            s,
            actor=actor,
            action="export.perform",
            object_type="audit",
            object_id="all",  # what the approval was asked for (approval.request)
            details={
                "approval": approval_id,
                "events": len(lines),
                "head": f"{head.seq}:{head.hash}",
                "sha256": digest,
            },
        )
    return ExportResult(len(lines), digest, f"{head.seq}:{head.hash}")


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(name, path)
    except OSError as exc:
        raise StoreError(f"cannot write the export to {path}: {exc}") from exc
