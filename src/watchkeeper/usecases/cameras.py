"""Camera configuration changes, one way for the API and the CLI: checked, stored, audited.

A camera URI may hold a password (``rtsp://user:secret@cam/...``). It is stored encrypted
when a key is configured (``store.uri_secrets``; the service decrypts it to connect) and
never shown: documents and audit records carry the URI with the
password replaced by ``***``, and an update that sends that redacted form back unchanged
keeps the stored URI.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.pipeline.region import check_roi
from watchkeeper.policy import audit
from watchkeeper.store import Database
from watchkeeper.store import cameras as camera_store
from watchkeeper.store.models import Camera
from watchkeeper.store.uri_secrets import open_uri, seal_uri
from watchkeeper.streams.base import redact
from watchkeeper.streams.probe import check_uri
from watchkeeper.usecases.runtime import CameraStatus


class CameraConfigError(ValueError):
    """A camera setting that cannot be used; the message says which and why."""


def checked(values: dict[str, Any]) -> dict[str, Any]:
    """The values with the URI and region checked (ranges are the caller's schema's job)."""
    result = dict(values)
    try:
        if result.get("uri") is not None:
            result["uri"] = check_uri(result["uri"])
        if "roi" in result:
            roi = check_roi(result["roi"])
            result["roi"] = list(roi) if roi is not None else None
    except ValueError as exc:
        raise CameraConfigError(str(exc)) from None
    return result


def add_camera(db: Database, actor: str, values: dict[str, Any]) -> dict[str, Any]:
    values = checked(values)
    if values.get("uri") is not None:
        values["uri"] = seal_uri(values["uri"], db.cipher)
    with db.session() as s:
        row = camera_store.create_camera(s, **values)
        document = camera_document(row)
        audit.record(s, actor, "camera.create", "camera", row.id, details=_auditable(document))
    return document


def update_camera(
    db: Database, actor: str, name_or_id: str | int, changes: dict[str, Any], reason: str | None
) -> dict[str, Any]:
    with db.session() as s:
        row = camera_store.get_camera(s, name_or_id)
        if changes.get("uri") is not None and changes["uri"] == redact(row.uri):
            changes = {k: v for k, v in changes.items() if k != "uri"}  # sent back as shown
        changes = checked(changes)
        if changes.get("uri") is not None:
            if changes["uri"] == _stored_uri(db, row):
                del changes["uri"]  # the same URI: no new ciphertext, no audit record
            else:
                changes["uri"] = seal_uri(changes["uri"], db.cipher)
        changed = camera_store.update_camera(s, row, **changes)
        if changed:
            shown = {f: [_shown(f, old), _shown(f, new)] for f, (old, new) in changed.items()}
            audit.record(
                s, actor, "camera.update", "camera", row.id, reason=reason,
                details={"name": row.name, "changes": shown},
            )  # fmt: skip
        return camera_document(row)


def delete_camera(db: Database, actor: str, name_or_id: str | int, reason: str | None) -> int:
    with db.session() as s:
        row = camera_store.get_camera(s, name_or_id)
        camera_id, name = row.id, row.name
        camera_store.delete_camera(s, row)
        audit.record(
            s, actor, "camera.delete", "camera", camera_id, reason=reason, details={"name": name}
        )
    return camera_id


def _stored_uri(db: Database, row: Camera) -> str:
    return open_uri(row.uri, db.cipher, f'camera "{row.name}"')


def camera_document(row: Camera, status: CameraStatus | None = None) -> dict[str, Any]:
    """The camera as the API and CLI show it (password redacted), with its status if given."""
    document: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "uri": redact(row.uri),
        "group": row.group,
        "analysis_fps": row.analysis_fps,
        "enabled": row.enabled,
        "min_face_size": row.min_face_size,
        "detection_threshold": row.detection_threshold,
        "roi": row.roi,
        "motion_gating": row.motion_gating,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }
    return with_status(document, status)


def with_status(document: dict[str, Any], status: CameraStatus | None) -> dict[str, Any]:
    return {**document, "status": status.as_dict() if status is not None else None}


def _shown(field: str, value: Any) -> Any:
    return redact(value) if field == "uri" and isinstance(value, str) else value


def _auditable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("created_at", "status")}
