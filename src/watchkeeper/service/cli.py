"""``watchkeeper camera add|list|update|delete``: a thin adapter over ``usecases.cameras``."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cli_common import JsonOption, app_context
from watchkeeper.store import cameras as camera_store
from watchkeeper.usecases import cameras as registry

console = Console()

camera_app = typer.Typer(help="Add, list, change and delete cameras.", no_args_is_help=True)

# --- cameras ---------------------------------------------------------------------------------


def _roi(value: str | None) -> list[float] | None:
    if value is None or value.strip().lower() in ("", "none"):
        return None
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        raise typer.BadParameter(
            "give numbers separated by commas, e.g. 0.1,0.2,0.9,1", param_hint="--roi"
        ) from None


def _print(document: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    else:
        console.print(f"{verb} camera [bold]{document['name']}[/] (id {document['id']})")


@camera_app.command("add")
def camera_add(
    ctx: typer.Context,
    name: str,
    uri: Annotated[str, typer.Option(help="rtsp://, http(s)://, a video file or image folder.")],
    group: Annotated[str, typer.Option(help="Camera group, e.g. airport.")] = "default",
    fps: Annotated[float, typer.Option(min=0.01, max=60, help="Frames analysed per second.")] = 5.0,
    min_face_size: Annotated[
        int | None, typer.Option(min=8, max=2000, help="Smallest face in pixels.")
    ] = None,
    detection_threshold: Annotated[
        float | None, typer.Option(min=0.01, max=0.99, help="Minimum detector confidence.")
    ] = None,
    roi: Annotated[
        str | None, typer.Option(help="Region x1,y1,x2,y2 or a polygon, in fractions 0..1.")
    ] = None,
    enabled: Annotated[bool, typer.Option(help="Watch it as soon as the service runs.")] = True,
    motion_gating: Annotated[
        bool | None,
        typer.Option(
            "--motion-gating/--no-motion-gating",
            help="Detect only where the picture changed (default: the motion.enabled setting).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a camera (the running service picks it up at its next start)."""
    app_ctx = app_context(ctx)
    values = {
        "name": name, "uri": uri, "group": group, "analysis_fps": fps, "enabled": enabled,
        "min_face_size": min_face_size, "detection_threshold": detection_threshold,
        "roi": _roi(roi), "motion_gating": motion_gating,
    }  # fmt: skip
    try:
        document = registry.add_camera(app_ctx.db, app_ctx.actor, values)
    except registry.CameraConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    _print(document, as_json, "added")


@camera_app.command("list")
def camera_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List cameras and their settings."""
    with app_context(ctx).db.session(readonly=True) as s:
        rows = [registry.camera_document(c) for c in camera_store.list_cameras(s)]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table("id", "name", "uri", "group", "fps", "enabled", "min face", "threshold", "roi")
    for r in rows:
        table.add_row(
            str(r["id"]), r["name"], r["uri"], r["group"], f"{r['analysis_fps']:g}",
            "yes" if r["enabled"] else "no", str(r["min_face_size"] or "—"),
            str(r["detection_threshold"] or "—"), str(r["roi"] or "—"),
        )  # fmt: skip
    console.print(table)


@camera_app.command("update")
def camera_update(
    ctx: typer.Context,
    camera: Annotated[str, typer.Argument(help="Camera name or id.")],
    uri: Annotated[str | None, typer.Option(help="New source URI.")] = None,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    group: Annotated[str | None, typer.Option(help="New group.")] = None,
    fps: Annotated[float | None, typer.Option(min=0.01, max=60)] = None,
    min_face_size: Annotated[int | None, typer.Option(min=8, max=2000)] = None,
    detection_threshold: Annotated[float | None, typer.Option(min=0.01, max=0.99)] = None,
    roi: Annotated[str | None, typer.Option(help="New region, or 'none' for all.")] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    motion_gating: Annotated[
        bool | None, typer.Option("--motion-gating/--no-motion-gating")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="For the audit log.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a camera's settings (the running service applies them at its next start)."""
    app_ctx = app_context(ctx)
    given = {
        "uri": uri, "name": name, "group": group, "analysis_fps": fps, "enabled": enabled,
        "min_face_size": min_face_size, "detection_threshold": detection_threshold,
        "motion_gating": motion_gating,
    }  # fmt: skip
    changes = {k: v for k, v in given.items() if v is not None}
    if roi is not None:
        changes["roi"] = _roi(roi)
    try:
        document = registry.update_camera(app_ctx.db, app_ctx.actor, camera, changes, reason)
    except registry.CameraConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    _print(document, as_json, "updated")


@camera_app.command("delete")
def camera_delete(
    ctx: typer.Context,
    camera: Annotated[str, typer.Argument(help="Camera name or id.")],
    reason: Annotated[str | None, typer.Option(help="For the audit log.")] = None,
) -> None:
    """Delete a camera that has no stored sightings (otherwise: --disabled)."""
    app_ctx = app_context(ctx)
    camera_id = registry.delete_camera(app_ctx.db, app_ctx.actor, camera, reason)
    console.print(f"deleted camera {camera} (id {camera_id})")


def mount(app: typer.Typer) -> None:
    """Add ``camera`` to the ``watchkeeper`` command."""
    app.add_typer(camera_app, name="camera")
