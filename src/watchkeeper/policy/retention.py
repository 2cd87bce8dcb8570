"""The retention job: what outlived its purpose is deleted, and the deletion is audited.

- Watchlist entries are deleted (person, photos, templates, matches, and sightings left
  without a match) ``policy.expired_entry_grace_days`` after they expired. They stopped
  matching at expiry already; the grace period leaves time to extend an entry that expired
  by mistake, and to finish reviewing its alerts.
- Archived sightings (archive mode of a camera group) are deleted when their own expiry
  passes, with their crops and templates.
- Each model's count of templates, which the store's triggers keep for running galleries
  (migration 0014), is counted again from the rows; where it was wrong, something changed
  the templates behind the triggers, and that is audited (``templates.tally_mended``).

Run it with ``watchkeeper policy purge`` (e.g. from cron) or call :func:`purge` from the
service loop. Files are deleted after the rows are committed, so a failure never leaves a
row pointing at a missing file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.store import policy as policy_store

log = logging.getLogger(__name__)

ACTOR = "system:retention"
# Deletion notes serve running galleries, which look every few seconds; one that has not
# looked for a day finds the count of ids changed and reads them all (decision 0044).
DELETION_NOTES_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    persons: int
    archived_sightings: int
    files: int


def purge(
    db: Database, media: MediaStore, grace_days: int, now: datetime | None = None
) -> PurgeReport:
    """Delete expired entries past their grace period and expired archived sightings."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=grace_days)
    freed: set[str] = set()
    with db.session() as s:
        expired = repository.expired_persons(s, cutoff)
        for person in expired:
            photos, templates = repository.photo_and_template_counts(s, person.id)
            details = {
                "watchlist": person.watchlist.name,
                "expired_at": person.expires_at.isoformat() if person.expires_at else None,
                "photos": photos,
                "templates": templates,
            }
            person_id = person.id
            freed.update(repository.delete_person(s, person))
            audit.record(
                s,
                actor=ACTOR,
                action="person.purge",
                object_type="person",
                object_id=person_id,
                reason=f"expired, grace period of {grace_days} days over",
                details=details,
            )
        archived = policy_store.expired_archive(s, now)
        if archived:
            policy_store.delete_sightings(s, [sighting_id for sighting_id, _ in archived])
            s.flush()
            freed.update(repository.unreferenced_media(s, [sha for _, sha in archived if sha]))
            audit.record(
                s,
                actor=ACTOR,
                action="archive.purge",
                object_type="sighting",
                reason="archive period over",
                details={"sightings": len(archived)},
            )
        repository.prune_template_deletions(s, now - DELETION_NOTES_KEPT)
        for mended in repository.recount_template_tallies(s):
            # only a change made behind the store's triggers leaves the kept numbers wrong
            log.warning(
                "the templates of model %s were changed behind the store's triggers: kept "
                "count and id sum %s, the rows say %s; running galleries follow when they "
                "next count the rows",
                mended.model, mended.kept, mended.counted,
            )  # fmt: skip
            audit.record(
                s,
                actor=ACTOR,
                action="templates.tally_mended",
                object_type="model",
                object_id=mended.model,
                reason="templates changed behind the store's triggers",
                details={"kept": list(mended.kept), "counted": list(mended.counted)},
            )
        files = sorted(freed)
    for sha in files:
        media.delete(sha)
    report = PurgeReport(len(expired), len(archived), len(files))
    log.info("retention purge: %s", report)
    return report


def set_archive(db: Database, group: str, days: int | None, actor: str, reason: str) -> None:
    """Turn archive mode of a camera group on (``days`` > 0) or off (0 or None), audited."""
    with db.session() as s:
        row = policy_store.set_archive_days(s, group, days or None, actor)
        audit.record(
            s,
            actor=actor,
            action="camera_group.archive",
            object_type="camera_group",
            object_id=group,
            reason=reason,
            details={"archive_days": row.archive_days},
        )
