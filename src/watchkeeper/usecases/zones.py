"""Zone changes, one way for the CLI, the API and the console: checked, stored, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from watchkeeper.crowd.zones import Zone, ZoneError
from watchkeeper.policy import audit
from watchkeeper.store import Database, StoreError
from watchkeeper.store import cameras as camera_store
from watchkeeper.store import crowd as crowd_store
from watchkeeper.store.models import utcnow


def zone_document(row: crowd_store.CrowdZone, camera: str) -> dict[str, Any]:
    """A stored zone as the API and the CLI show it."""
    return {
        "id": row.id,
        "camera_id": row.camera_id,
        "camera": camera,
        **row.definition,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def add_zone(
    db: Database, actor: str, camera: str | int, definition: dict[str, Any]
) -> dict[str, Any]:
    """Check and store a zone on a camera; refused with the reason if it is not usable."""
    zone = Zone.from_dict(definition)
    with db.session() as s:
        cam = camera_store.get_camera(s, camera)
        if crowd_store.zone_by_name(s, cam.id, zone.name) is not None:
            raise ZoneError(f"camera '{cam.name}' already has a zone named '{zone.name}'")
        row = crowd_store.CrowdZone(
            camera_id=cam.id, name=zone.name, definition=zone.to_dict(), created_by=actor
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError as exc:  # two adds of the same name at once
            raise StoreError(f"zone '{zone.name}' could not be stored: {exc.orig}") from None
        audit.record(
            s, actor, "zone.create", "zone", row.id,
            details={"camera": cam.name, **zone.to_dict()},
        )  # fmt: skip
        return zone_document(row, cam.name)


def update_zone(
    db: Database, actor: str, zone_id: int, definition: dict[str, Any], reason: str | None
) -> dict[str, Any]:
    """Replace a zone's definition (its name may change too), audited with before and after."""
    zone = Zone.from_dict(definition)
    with db.session() as s:
        row = crowd_store.get_zone(s, zone_id)
        cam = camera_store.get_camera(s, row.camera_id)
        other = crowd_store.zone_by_name(s, cam.id, zone.name)
        if other is not None and other.id != row.id:
            raise ZoneError(f"camera '{cam.name}' already has a zone named '{zone.name}'")
        before = row.definition
        row.name, row.definition, row.updated_at = zone.name, zone.to_dict(), utcnow()
        audit.record(
            s, actor, "zone.update", "zone", row.id, reason=reason,
            details={"camera": cam.name, "before": before, "after": row.definition},
        )  # fmt: skip
        return zone_document(row, cam.name)


def delete_zone(db: Database, actor: str, zone_id: int, reason: str | None) -> None:
    """Delete a zone with its minutes and crowd alerts (by cascade), audited."""
    with db.session() as s:
        row = crowd_store.get_zone(s, zone_id)
        cam = camera_store.get_camera(s, row.camera_id)
        details = {"camera": cam.name, "name": row.name}
        s.delete(row)
        audit.record(s, actor, "zone.delete", "zone", zone_id, reason=reason, details=details)


def list_zones(db: Database, camera: str | int | None = None) -> list[dict[str, Any]]:
    with db.session(readonly=True) as s:
        if camera is not None:
            cam = camera_store.get_camera(s, camera)
            return [zone_document(r, cam.name) for r in crowd_store.zones_of(s, cam.id)]
        names = {c.id: c.name for c in camera_store.list_cameras(s)}
        return [zone_document(r, names.get(r.camera_id, "?")) for r in crowd_store.all_zones(s)]


def zones_for_camera(db: Database, camera_id: int) -> list[Zone]:
    """The zones a camera's counter uses (empty: the camera does no crowd counting)."""
    with db.session(readonly=True) as s:
        return [
            Zone.from_dict(r.definition, zone_id=r.id) for r in crowd_store.zones_of(s, camera_id)
        ]
