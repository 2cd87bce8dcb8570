"""The cameras the service watches: their source and how each is analysed.

Only configuration lives here; how a camera is doing (connected, frames/s, lag) is runtime
state held by the camera manager and never written to the database. A camera with sightings
cannot be deleted (the sightings are evidence that points at it): disable it instead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.store.models import Camera, Sighting
from watchkeeper.store.names import check_name

EDITABLE = (
    "name",
    "uri",
    "group",
    "analysis_fps",
    "enabled",
    "min_face_size",
    "detection_threshold",
    "roi",
    "motion_gating",
)


def create_camera(s: Session, **values: Any) -> Camera:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise StoreError(f"unknown camera field(s): {', '.join(sorted(unknown))}")
    name, uri = values.get("name"), values.get("uri")
    if not name or not uri:
        raise StoreError("a camera needs a name and a URI")
    check_name(name, "camera name")
    if s.scalar(select(Camera.id).where(Camera.name == name)) is not None:
        raise StoreError(f'camera "{name}" already exists')
    defaults = {"group": "default", "enabled": True, "analysis_fps": 5.0}
    camera = Camera(**{**defaults, **{k: v for k, v in values.items() if v is not None}})
    s.add(camera)
    try:
        s.flush()
    except IntegrityError as exc:
        raise StoreError(f'camera "{name}" already exists') from exc
    return camera


def get_camera(s: Session, name_or_id: str | int) -> Camera:
    """By name, or by id when given an int (or a digit string that is no camera's name)."""
    found = None
    if isinstance(name_or_id, str):
        found = s.scalar(select(Camera).where(Camera.name == name_or_id))
    if found is None and str(name_or_id).isdigit():
        found = s.get(Camera, int(name_or_id))
    if found is None:
        raise NotFound(f'camera "{name_or_id}" does not exist')
    return found


def list_cameras(
    s: Session,
    enabled: bool | None = None,
    group: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Camera]:
    query = select(Camera).order_by(Camera.id)
    if enabled is not None:
        query = query.where(Camera.enabled == enabled)
    if group is not None:
        query = query.where(Camera.group == group)
    if after_id is not None:
        query = query.where(Camera.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return list(s.scalars(query))


def update_camera(s: Session, camera: Camera, **changes: Any) -> dict[str, tuple[Any, Any]]:
    """Apply ``changes``; return {field: (old, new)} of what really changed (for the audit)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise StoreError(f"unknown camera field(s): {', '.join(sorted(unknown))}")
    new_name = changes.get("name")
    if new_name is not None:
        check_name(new_name, "camera name")
    if new_name is not None and new_name != camera.name:
        clash = s.scalar(select(Camera.id).where(Camera.name == new_name))
        if clash is not None:
            raise StoreError(f'camera "{new_name}" already exists')
    changed = {}
    for field, value in changes.items():
        old = getattr(camera, field)
        if old != value:
            setattr(camera, field, value)
            changed[field] = (old, value)
    s.flush()
    return changed


def delete_camera(s: Session, camera: Camera) -> None:
    sightings = s.scalar(select(func.count(Sighting.id)).where(Sighting.camera_id == camera.id))
    if sightings:
        raise StoreError(
            f'camera "{camera.name}" is in use by {sightings} stored sighting(s): '
            "disable it instead (enabled=false)"
        )
    s.delete(camera)
    s.flush()
