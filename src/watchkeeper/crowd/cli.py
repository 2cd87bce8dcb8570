"""``watchkeeper zone …`` and the counting behind ``watchkeeper run SOURCE --crowd``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cli_common import JsonOption, app_context, print_json, refusals
from watchkeeper.context import AppContext
from watchkeeper.crowd.counting import CrowdCounter
from watchkeeper.crowd.detector import load_person_detector
from watchkeeper.crowd.minutes import MinuteAggregator
from watchkeeper.crowd.tiling import tiled_from_config
from watchkeeper.crowd.zones import Zone, ZoneError, whole_picture
from watchkeeper.store import StoreError
from watchkeeper.streams import open_configured_source
from watchkeeper.usecases import zones as registry

console = Console()
zone_app = typer.Typer(
    help="Crowd counting zones per camera: add, list, update, delete.", no_args_is_help=True
)


def _definition(file: Path | None, text: str | None) -> dict[str, Any]:
    if (file is None) == (text is None):
        raise typer.BadParameter("give the zone as --file zone.json or as --zone '{...}'")
    raw = file.read_text(encoding="utf-8") if file is not None else str(text)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"the zone is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise typer.BadParameter("the zone must be a JSON object")
    return value


FileOption = Annotated[Path | None, typer.Option("--file", help="Zone definition (JSON file).")]
TextOption = Annotated[str | None, typer.Option("--zone", help="Zone definition (JSON text).")]


@zone_app.command("add")
@refusals(ZoneError, StoreError)
def zone_add(
    ctx: typer.Context,
    camera: Annotated[str, typer.Argument(help="Camera name or id.")],
    file: FileOption = None,
    zone: TextOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a zone to a camera (takes effect when the service next applies the camera)."""
    app_ctx = app_context(ctx)
    key: str | int = int(camera) if camera.isdigit() else camera
    document = registry.add_zone(app_ctx.db, app_ctx.actor, key, _definition(file, zone))
    _print([document], as_json, "added")


@zone_app.command("list")
@refusals(StoreError)
def zone_list(
    ctx: typer.Context,
    camera: Annotated[str | None, typer.Argument(help="Only this camera's zones.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the zones of one camera or of all."""
    key: str | int | None = int(camera) if camera and camera.isdigit() else camera
    _print(registry.list_zones(app_context(ctx).db, key), as_json, None)


@zone_app.command("update")
@refusals(ZoneError, StoreError)
def zone_update(
    ctx: typer.Context,
    zone_id: Annotated[int, typer.Argument(help="Zone id.")],
    file: FileOption = None,
    zone: TextOption = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace a zone's definition."""
    app_ctx = app_context(ctx)
    document = registry.update_zone(
        app_ctx.db, app_ctx.actor, zone_id, _definition(file, zone), reason
    )
    _print([document], as_json, "updated")


@zone_app.command("delete")
@refusals(StoreError)
def zone_delete(
    ctx: typer.Context,
    zone_id: Annotated[int, typer.Argument(help="Zone id.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit log).")] = None,
) -> None:
    """Delete a zone with its counts and crowd alerts."""
    app_ctx = app_context(ctx)
    registry.delete_zone(app_ctx.db, app_ctx.actor, zone_id, reason)
    console.print(f"deleted zone {zone_id}")


def _print(documents: list[dict[str, Any]], as_json: bool, verb: str | None) -> None:
    if as_json:
        print_json(documents[0] if verb else documents)
        return
    table = Table("id", "camera", "name", "points", "area m²", "lines", "limits")
    for d in documents:
        limits = ", ".join(f"{k}={v}" for k, v in d["limits"].items() if v is not None)
        table.add_row(
            str(d["id"]), d["camera"], d["name"], str(len(d["polygon"])),
            "" if d["area_m2"] is None else f"{d['area_m2']:g}",
            ", ".join(line["name"] for line in d["lines"]), limits or "—",
        )  # fmt: skip
    console.print(table)
    if verb:
        console.print(f"{verb} zone {documents[0]['name']}")


# --- run --crowd ----------------------------------------------------------------------------


def crowd_zones(app_ctx: AppContext, camera: str, zones_file: Path | None) -> list[Zone]:
    """The zones to count: a file, else the stored zones of a camera of that name, else all."""
    if zones_file is not None:
        try:
            data = json.loads(zones_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ZoneError(f"cannot read zones from {zones_file}: {exc}") from None
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(item, dict) for item in items):
            raise ZoneError(f"{zones_file} must hold a zone object or a list of them")
        return [Zone.from_dict(item) for item in items]
    try:
        stored = registry.list_zones(app_ctx.db, camera)
    except StoreError:  # no camera of that name: count the whole picture
        stored = []
    return [Zone.from_dict(d, zone_id=d["id"]) for d in stored] or [whole_picture()]


def count_source(
    app_ctx: AppContext, uri: str, camera: str, analysis_fps: float, zones: list[Zone]
) -> dict[str, Any]:
    """Count people per zone over a source; the series per frame and per minute (nothing kept)."""
    settings = app_ctx.settings
    source = open_configured_source(uri, camera, analysis_fps, settings.streams)
    detector = load_person_detector(settings.vision, settings.crowd)
    tiled = tiled_from_config(detector, settings.crowd)
    counter = CrowdCounter(zones, tiled, settings.crowd.smoothing_frames)
    minutes = MinuteAggregator()
    series: list[dict[str, Any]] = []
    done = []
    try:
        for frame in source.frames():
            readings, _people = counter.count(frame.image, frame.timestamp)
            done += minutes.add(readings)
            series.append(
                {
                    "frame": frame.index,
                    "at": datetime.fromtimestamp(frame.timestamp, UTC).isoformat(),
                    "zones": {
                        r.zone: {
                            "people": r.people,
                            "smoothed": r.smoothed,
                            "density": None if r.density is None else round(r.density, 3),
                            "entered": r.entered,
                            "left": r.left,
                        }
                        for r in readings
                    },
                }
            )
    finally:
        source.close()
    done += minutes.flush()
    return {
        "camera": camera,
        "model": tiled.detector.name,
        "tiles": f"{tiled.columns}x{tiled.rows}" + ("+whole" if tiled.whole_view else ""),
        "zones": [z.to_dict() for z in zones],
        "frames_analysed": len(series),
        "series": series,
        "minutes": [
            {
                "zone": m.zone,
                "minute": datetime.fromtimestamp(m.minute, UTC).isoformat(),
                "frames": m.samples,
                "people_mean": round(m.people_mean, 2),
                "people_max": m.people_max,
                "density_max": m.density_max,
                "entered": m.entered,
                "left": m.left,
            }
            for m in done
        ],
    }


def print_counts(summary: dict[str, Any]) -> None:
    names = [z["name"] for z in summary["zones"]]
    table = Table(
        "frame", "time", *names,
        title=f"people per zone over {summary['frames_analysed']} analysed frames "
        f"({summary['model']}, tiles {summary['tiles']}); counts only, nothing stored",
    )  # fmt: skip
    for point in summary["series"]:
        cells = []
        for name in names:
            z = point["zones"][name]
            flow = f" ↓{z['entered']}" if z["entered"] else ""
            flow += f" ↑{z['left']}" if z["left"] else ""
            cells.append(f"{z['people']} (~{z['smoothed']:g}){flow}")
        table.add_row(str(point["frame"]), point["at"][11:23], *cells)
    console.print(table)


def mount(app: typer.Typer) -> None:
    """Add ``zone`` to the ``watchkeeper`` command."""
    app.add_typer(zone_app, name="zone")
