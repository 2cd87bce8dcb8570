"""Creating, changing and deleting watchlists: the row, the audit record and the media, once.

The CLI and the API both come here, so a list is created, changed or deleted under the same
checks and leaves the same trace in the audit log whichever door was used. A deletion frees
the photos of everyone enrolled on the list; the files go only after the commit, so a failed
deletion never leaves rows pointing at missing files.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore, repository


def create_watchlist(
    db: Database,
    actor: str,
    *,
    name: str,
    purpose: str,
    legal_basis: str,
    owner: str,
    review_by: datetime | None = None,
    threshold: float | None = None,
    confirmations_required: int = 1,
) -> int:
    """Create a list with its purpose, legal basis and owner (audited); its id."""
    fields: dict[str, Any] = {
        "name": name, "purpose": purpose, "legal_basis": legal_basis, "owner": owner,
        "review_by": review_by, "threshold": threshold,
        "confirmations_required": confirmations_required,
    }  # fmt: skip
    with db.session() as s:
        wl = repository.create_watchlist(s, **fields)
        audit.record(
            s, actor, "watchlist.create", "watchlist", wl.id,
            details={k: _plain(v) for k, v in fields.items()},
        )  # fmt: skip
        return wl.id


def update_watchlist(
    db: Database, actor: str, watchlist: int | str, given: dict[str, Any], reason: str | None
) -> dict[str, list[Any]]:
    """Change the given fields; audit what changed (before, after); the changes."""
    with db.session() as s:
        wl = repository.get_watchlist(s, watchlist)
        changes: dict[str, list[Any]] = {}
        for field, value in given.items():
            before = getattr(wl, field)
            if before != value:
                changes[field] = [_plain(before), _plain(value)]
                setattr(wl, field, value)
        if changes:
            if "threshold" in changes:
                repository.bump_gallery_version(s)  # matchers reload thresholds with it
            audit.record(
                s, actor, "watchlist.update", "watchlist", wl.id,
                reason=reason, details={"name": wl.name, "changes": changes},
            )  # fmt: skip
    return changes


def delete_watchlist(
    db: Database, media: MediaStore, actor: str, watchlist: int | str, reason: str
) -> tuple[str, int]:
    """Delete a list with everyone on it, audited; its name and the number of files freed."""
    with db.session() as s:
        wl = repository.get_watchlist(s, watchlist)
        wl_id, name = wl.id, wl.name
        freed = repository.delete_watchlist(s, wl)
        audit.record(
            s, actor, "watchlist.delete", "watchlist", wl_id,
            reason=reason, details={"name": name},
        )  # fmt: skip
    for sha in freed:
        media.delete(sha)
    return name, len(freed)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
