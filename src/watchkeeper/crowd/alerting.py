"""Crowd alerts: a zone limit passed becomes one alert, delivered like a face alert.

Raising writes the alert, its outbox rows (webhooks, MQTT) and its audit record in one
transaction, and tells the live broker (SSE) after the commit, exactly as face alerts do. The
document carries counts, zone, camera and time, never an image. When the value falls back below
the release level the alert is marked released (the surge is over) and a later surge raises a
new alert. Nobody is identified, so no two-person rule: one operator acknowledges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from watchkeeper.alerts.events import EventBroker
from watchkeeper.config import NotificationsConfig
from watchkeeper.crowd.limits import Breach, Release
from watchkeeper.policy import audit
from watchkeeper.store import Database, outbox
from watchkeeper.store import cameras as camera_store
from watchkeeper.store import crowd as crowd_store
from watchkeeper.store.outbox import targets_of

SYSTEM_ACTOR = "system:crowd"


class AcknowledgeError(Exception):
    """An acknowledgement that the alert's state does not allow."""


def crowd_alert_document(alert: crowd_store.CrowdAlert, camera: Any, zone: str) -> dict[str, Any]:
    """One JSON shape for the API, SSE, webhooks and MQTT; ``kind`` tells it from face alerts."""
    return {
        "kind": "crowd",
        "id": alert.id,
        "state": alert.state,
        "camera": {"id": camera.id, "name": camera.name, "group": camera.group},
        "zone": {"id": alert.zone_id, "name": zone},
        "limit_kind": alert.kind,
        "value": round(alert.value, 3),
        "limit": alert.limit,
        "peak": round(alert.peak, 3),
        "raised_at": alert.raised_at.isoformat(),
        "released_at": alert.released_at.isoformat() if alert.released_at else None,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
    }


class CrowdAlertService:
    """Raises, releases and acknowledges crowd alerts; tells the outbox and the broker."""

    def __init__(
        self,
        db: Database,
        config: NotificationsConfig,
        broker: EventBroker | None = None,
        on_raise: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.db = db
        self.targets = targets_of(config)
        self.broker = broker
        self.on_raise = on_raise  # after the commit: wake the dispatcher, count the alert

    def raise_breach(self, camera_id: int, zone_id: int, breach: Breach) -> dict[str, Any]:
        """Store a new alert for a breach (its outbox rows and audit too); return its document."""
        with self.db.session() as s:
            camera = camera_store.get_camera(s, camera_id)
            zone = crowd_store.get_zone(s, zone_id)
            alert = crowd_store.CrowdAlert(
                camera_id=camera_id,
                zone_id=zone_id,
                kind=breach.kind,
                value=breach.value,
                limit=breach.limit,
                peak=breach.value,
                raised_at=datetime.fromtimestamp(breach.at, UTC),
                state="new",
            )
            s.add(alert)
            s.flush()
            document = crowd_alert_document(alert, camera, zone.name)
            for target in self.targets:
                payload = {"event": "crowd.alert.created", "alert": document}
                outbox.enqueue(s, alert.id, target.channel, target.address, payload, crowd=True)
            audit.record(
                s, SYSTEM_ACTOR, "crowd_alert.raise", "crowd_alert", alert.id,
                details={"camera": camera.name, "zone": zone.name, "kind": breach.kind,
                         "value": round(breach.value, 3), "limit": breach.limit},
            )  # fmt: skip
        self._publish("crowd.alert.created", document)
        if self.on_raise is not None:
            self.on_raise(document)
        return document

    def release(self, zone_id: int, release: Release) -> None:
        """Mark the zone's open alert of that kind as over, with the surge's peak (no
        notification: there is nothing to do). The peak is written once, here, not per frame."""
        with self.db.session() as s:
            alert = crowd_store.open_alert(s, zone_id, release.kind)
            if alert is not None:
                alert.released_at = datetime.fromtimestamp(release.at, UTC)
                alert.peak = max(alert.peak, release.peak)

    def acknowledge(self, alert_id: int, actor: str, comment: str | None = None) -> dict[str, Any]:
        """One operator's acknowledgement (audited); a second one is refused."""
        with self.db.session() as s:
            alert = crowd_store.get_alert(s, alert_id)
            if alert.state == "acknowledged":
                raise AcknowledgeError(
                    f"crowd alert {alert_id} was already acknowledged by {alert.acknowledged_by}"
                )
            alert.state = "acknowledged"
            alert.acknowledged_by = actor
            alert.acknowledged_at = datetime.now(UTC)
            audit.record(
                s, actor, "crowd_alert.acknowledge", "crowd_alert", alert_id, reason=comment
            )
            camera = camera_store.get_camera(s, alert.camera_id)
            zone = crowd_store.get_zone(s, alert.zone_id)
            document = crowd_alert_document(alert, camera, zone.name)
        self._publish("crowd.alert.updated", document)
        return document

    def documents(self, state: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.session(readonly=True) as s:
            rows = crowd_store.list_alerts(s, state, limit=limit)
            cameras = {c.id: c for c in camera_store.list_cameras(s)}
            zones = {z.id: z.name for z in crowd_store.all_zones(s)}
            return [
                crowd_alert_document(a, cameras[a.camera_id], zones.get(a.zone_id, "?"))
                for a in rows
            ]

    def _publish(self, type_: str, document: dict[str, Any]) -> None:
        if self.broker is not None:
            self.broker.publish(type_, document)
