"""The alert lifecycle: a match raises an alert (or folds into a recent one); reviewers decide.

Raising happens inside the transaction that stores the matched sighting
(:func:`watchkeeper.recognition.record_matches`'s ``on_record``), together with the outbox
rows for every configured notification target and the audit record: the sighting, its alert
and the promise to tell others commit together or not at all. Live listeners (SSE) hear of
it only after the commit, so nobody is told of an alert that then vanished.

Reviews follow the watchlist's ``confirmations_required``: with 2 (the two-person rule) an
alert becomes *confirmed*, i.e. actionable, only once two different users confirmed it;
one user cannot confirm twice, and one rejection rejects. Confirmed and rejected are final.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from watchkeeper.alerts.documents import alert_document
from watchkeeper.alerts.events import EventBroker
from watchkeeper.config import NotificationsConfig
from watchkeeper.domain import Match, Sighting
from watchkeeper.policy import audit
from watchkeeper.recognition import record_matches
from watchkeeper.store import Database, MediaStore, models, outbox
from watchkeeper.store import alerts as alert_store
from watchkeeper.store.outbox import targets_of

SYSTEM_ACTOR = "system:alerts"
FINAL_STATES = ("confirmed", "rejected")


class ReviewError(Exception):
    """A review that the alert's state or the two-person rule does not allow."""


@dataclass(frozen=True, slots=True)
class CameraRef:
    """What the store needs to know of the camera a sighting came from."""

    name: str
    uri: str
    group: str = "default"
    analysis_fps: float = 5.0


@dataclass(frozen=True, slots=True)
class AlertChange:
    type: str  # "alert.created" or "alert.updated"
    alert_id: int
    document: dict[str, Any]


class AlertService:
    """Raises, folds and reviews alerts; tells the outbox and the live broker."""

    def __init__(
        self,
        db: Database,
        media: MediaStore,
        config: NotificationsConfig,
        broker: EventBroker | None = None,
        on_change: Callable[[AlertChange], None] | None = None,
    ) -> None:
        self.db = db
        self.media = media
        self.config = config
        self.targets = targets_of(config)
        self.broker = broker
        self.on_change = on_change

    def record(
        self, camera: CameraRef, results: Sequence[tuple[Sighting, list[Match]]]
    ) -> list[AlertChange]:
        """Store the matched sightings with their alerts and owed notifications, then publish."""
        matched = [(sighting, matches) for sighting, matches in results if matches]
        if not matched:
            return []
        changes: list[AlertChange] = []

        def on_record(
            session: Session,
            _sighting: Sighting,
            row: models.Sighting,
            match_rows: list[models.Match],
        ) -> None:
            changes.extend(self._raise_or_fold(session, row, match_rows))

        record_matches(
            self.db,
            self.media,
            camera.uri,
            matched,
            camera_group=camera.group,
            analysis_fps=camera.analysis_fps,
            on_record=on_record,
        )
        for change in changes:
            self._publish(change)
        return changes

    def review(
        self,
        alert_id: int,
        *,
        user_id: int | None,
        reviewer: str,
        actor: str,
        decision: str,
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Record one reviewer's decision (with its audit event); return the alert document."""
        if decision not in alert_store.DECISIONS:
            raise ReviewError(
                f"decision {decision!r} is not one of: {', '.join(alert_store.DECISIONS)}"
            )
        with self.db.session() as s:
            alert = alert_store.get_alert(s, alert_id)
            if alert.state in FINAL_STATES:
                raise ReviewError(
                    f"alert {alert_id} is already {alert.state}: a decided alert is not "
                    "reviewed again"
                )
            confirmers = {
                _reviewer_key(r.user_id, r.reviewer)
                for r in alert_store.reviews_of(s, alert_id)
                if r.decision == "confirm"
            }
            if decision == "confirm" and _reviewer_key(user_id, reviewer) in confirmers:
                raise ReviewError(
                    f"{reviewer} has already confirmed alert {alert_id}; it needs "
                    f"{alert.confirmations_required} confirmations from different reviewers"
                )
            alert_store.add_review(s, alert, user_id, reviewer, decision, comment)
            if decision == "confirm":
                confirmers.add(_reviewer_key(user_id, reviewer))
                if len(confirmers) >= alert.confirmations_required:
                    alert.state = "confirmed"
            else:
                alert.state = "rejected" if decision == "reject" else "escalated"
            alert.updated_at = datetime.now(UTC)
            audit.record(
                s,
                actor=actor,
                action="alert.review",
                object_type="alert",
                object_id=alert_id,
                reason=comment,
                details={
                    "decision": decision,
                    "state": alert.state,
                    "confirmations": len(confirmers),
                    "confirmations_required": alert.confirmations_required,
                },
            )
            s.flush()
            document = alert_document(alert_store.view_alert(s, alert_id))
        self._publish(AlertChange("alert.updated", alert_id, document))
        return document

    def _raise_or_fold(
        self, s: Session, row: models.Sighting, match_rows: list[models.Match]
    ) -> list[AlertChange]:
        changes = []
        window = timedelta(seconds=self.config.dedupe_window_s)
        for match in match_rows:
            existing = (
                alert_store.find_foldable(
                    s, row.camera_id, match.person_id, row.started_at - window
                )
                if window
                else None
            )
            if existing is not None:
                alert = existing
                alert.count += 1
                alert.last_seen = max(alert.last_seen, row.ended_at)
                alert.updated_at = datetime.now(UTC)
                if match.score > alert.score:  # show the best view of the person
                    alert.score = match.score
                    alert.sighting_id = row.id
                    alert.photo_id = _photo_of(s, match.template_id)
                kind = "alert.updated"
            else:
                alert = self._new_alert(s, row, match)
                kind = "alert.created"
            alert_store.link_sighting(s, alert, row.id, match.id, match.score)
            s.flush()
            document = alert_document(alert_store.view_alert(s, alert.id))
            if kind == "alert.created":
                for target in self.targets:
                    payload = {"event": kind, "alert": document}
                    outbox.enqueue(s, alert.id, target.channel, target.address, payload)
            changes.append(AlertChange(kind, alert.id, document))
        return changes

    def _new_alert(
        self, s: Session, row: models.Sighting, match: models.Match
    ) -> alert_store.Alert:
        watchlist = s.get(models.Watchlist, match.watchlist_id)
        alert = alert_store.Alert(
            camera_id=row.camera_id,
            person_id=match.person_id,
            watchlist_id=match.watchlist_id,
            sighting_id=row.id,
            photo_id=_photo_of(s, match.template_id),
            score=match.score,
            threshold=match.threshold,
            state="new",
            confirmations_required=watchlist.confirmations_required if watchlist else 1,
            count=1,
            first_seen=row.started_at,
            last_seen=row.ended_at,
        )
        s.add(alert)
        s.flush()
        audit.record(
            s,
            actor=SYSTEM_ACTOR,
            action="alert.raise",
            object_type="alert",
            object_id=alert.id,
            details={
                "sighting": row.id,
                "person": match.person_id,
                "watchlist": match.watchlist_id,
                "score": round(match.score, 4),
            },
        )
        return alert

    def _publish(self, change: AlertChange) -> None:
        if self.broker is not None:
            self.broker.publish(change.type, change.document)
        if self.on_change is not None:
            self.on_change(change)


def _reviewer_key(user_id: int | None, reviewer: str) -> str:
    return f"id:{user_id}" if user_id is not None else f"name:{reviewer}"


def _photo_of(s: Session, template_id: int | None) -> int | None:
    if template_id is None:
        return None
    template = s.get(models.Template, template_id)
    return template.photo_id if template is not None else None
