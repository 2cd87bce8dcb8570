"""``watchkeeper cluster status`` and ``watchkeeper plan``.

Importing this module imports no Ray: ``status`` imports it when it runs, and ``plan`` is
arithmetic. (``serve --cluster`` is an option of ``watchkeeper serve``.)
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from watchkeeper.cli_common import app_context
from watchkeeper.cluster.plan import MEASURED, Costs, Deployment, plan
from watchkeeper.config import ConfigError

console = Console()

cluster_app = typer.Typer(help="Inspect the pipeline on a Ray cluster.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@cluster_app.command("status")
def status(
    ctx: typer.Context,
    address: Annotated[
        str | None,
        typer.Option(help="auto, HOST:PORT or ray://HOST:PORT (default: cluster.address)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Nodes, workers, inference actors and what their models run on, the cameras each
    worker runs with their lag, and restarts."""
    from watchkeeper.cluster.runtime import connect
    from watchkeeper.cluster.status import cluster_status

    settings = app_context(ctx).settings.cluster
    connect(address or settings.address, settings.namespace, log_to_driver=False)
    report = cluster_status(settings.camera_resource, settings.inference_resource)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
        return
    print_status(report)


def print_status(report: dict[str, Any]) -> None:
    """``cluster status`` as tables: nodes, workers, inference actors, cameras."""
    nodes = Table("node", "address", "alive", "CPUs", "GPUs", "camera slots", "inference")
    for n in report["nodes"]:
        nodes.add_row(
            n["node_id"][:12] + (" (head)" if n["head"] else ""), str(n["address"]),
            "yes" if n["alive"] else "no", f"{n['cpus']:g}", f"{n['gpus']:g}",
            f"{n['camera_slots']:g}", f"{n['inference_slots']:g}",
        )  # fmt: skip
    console.print(nodes)
    workers = Table("worker", "state", "node", "restarts", "busy", "cameras", "buffered")
    cameras = Table("camera", "worker", "state", "fps analysed", "lag s", "alerts")
    for w in report["workers"]:
        busy = w.get("utilisation")
        buffer = w.get("buffer") or {}
        workers.add_row(
            w["name"], str(w["state"]), str(w["node_id"] or "—")[:12], str(w["restarts"]),
            f"{busy:.0%}" if busy is not None else "—", str(len(w["cameras"])),
            str(buffer.get("pending", "—")),
        )  # fmt: skip
        for c in w["cameras"]:
            lag = "—" if c["lag_s"] is None else f"{c['lag_s']:.2f}"
            cameras.add_row(
                c["name"], w["name"], c["state"], f"{c['fps_analysed']:g}", lag, str(c["alerts"])
            )
    inference = Table("inference actor", "state", "node", "restarts")
    inference.add_column("runs on", overflow="fold")  # whole: it says whether the GPU is used
    for figure in ("frames", "faces"):
        inference.add_column(figure)
    for i in report["inference"]:
        figures = i.get("figures") or {}
        inference.add_row(
            i["name"], str(i["state"]), str(i["node_id"] or "—")[:12], str(i["restarts"]),
            str(figures.get("runtime", "—")), str(figures.get("frames", "—")),
            str(figures.get("faces", "—")),
        )  # fmt: skip
    console.print(workers)
    if report["inference"]:
        console.print(inference)
    console.print(cameras)
    if not report["workers"]:
        console.print("no camera workers: is watchkeeper serve --cluster running?")


def plan_command(
    cameras: Annotated[int, typer.Option(min=1, help="Cameras to analyse.")],
    analysis_fps: Annotated[float, typer.Option(min=0.01, max=60)] = 5.0,
    faces_per_frame: Annotated[float, typer.Option(min=0, help="Faces per analysed frame.")] = 2.0,
    gpu_throughput: Annotated[
        float | None,
        typer.Option(min=1, help="Analysed frames/s one GPU sustains; empty: models on CPUs."),
    ] = None,
    costs: Annotated[
        Path | None,
        typer.Option(help="JSON of measured costs (bench/pipeline.py --json, or flat keys)."),
    ] = None,
    source_fps: Annotated[float, typer.Option(min=1, max=120)] = 25.0,
    bitrate_mbps: Annotated[float, typer.Option(min=0.01, help="Per stream.")] = 4.0,
    cores_per_node: Annotated[int, typer.Option(min=1)] = 32,
    gpus_per_node: Annotated[int, typer.Option(min=1)] = 4,
    spare_nodes: Annotated[int, typer.Option(min=0, help="Extra nodes of each kind.")] = 1,
    gallery_templates: Annotated[int, typer.Option(min=0)] = 100_000,
    matches_per_camera_hour: Annotated[float, typer.Option(min=0)] = 0.5,
    busy_share: Annotated[
        float,
        typer.Option(
            min=0, max=1, help="Share of cameras that see a crowd; the rest see a quiet scene."
        ),
    ] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """How many CPU and GPU nodes, how much network and database a deployment needs."""
    measured = MEASURED
    if costs is not None:
        try:
            measured = Costs.from_json(json.loads(costs.read_text(encoding="utf-8")), str(costs))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"cannot read costs from {costs}: {exc}") from exc
    if gpu_throughput is not None:
        measured = replace(measured, gpu_fps=gpu_throughput)
    deployment = Deployment(
        cameras=cameras, analysis_fps=analysis_fps, source_fps=source_fps,
        faces_per_frame=faces_per_frame, bitrate_mbps=bitrate_mbps,
        cores_per_node=cores_per_node, gpus_per_node=gpus_per_node, spare_nodes=spare_nodes,
        gallery_templates=gallery_templates, matches_per_camera_hour=matches_per_camera_hour,
        busy_share=busy_share,
    )  # fmt: skip
    try:
        result = plan(deployment, measured)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    _print_plan(result)


def _print_plan(result: dict[str, Any]) -> None:
    d = result["inputs"]["deployment"]
    c = result["inputs"]["costs"]
    console.print(
        f"[bold]{d['cameras']} cameras[/] at {d['analysis_fps']:g} frames/s analysed "
        f"({d['source_fps']:g} frames/s decoded), {d['faces_per_frame']:g} faces per frame"
    )
    console.print(
        f"costs ({c['source']}): decode {c['decode_ms']:g} ms/frame, detect "
        f"{c['detect_ms']:g} ms/frame, embed {c['embed_ms']:g} ms/face × {c['embed_ratio']:g} "
        f"of faces, quiet scene {c['quiet_ms']:g} ms/frame beyond "
        f"{c['quiet_decode_share']:.0%} of the decoding"
    )
    table = Table("what", "needed")
    per = result["per_camera"]
    cpu = result["cpu"]
    table.add_row("CPU cores per camera, crowd scene", f"{per['crowd_cpu_cores']:.3f}")
    table.add_row("CPU cores per camera, quiet scene", f"{per['quiet_cpu_cores']:.3f}")
    table.add_row(
        f"CPU cores per camera, {per['busy_share']:.0%} crowded", f"{per['cpu_cores']:.3f}"
    )
    table.add_row("CPU cores in all", f"{cpu['cores_needed']:g}")
    table.add_row(
        f"CPU nodes ({cpu['cores_per_node']} cores)",
        f"{cpu['nodes']} ({cpu['cameras_per_node']} cameras each, {cpu['spare_nodes']} spare)",
    )
    table.add_row(
        "camera workers per node",
        f"{cpu['camera_workers_per_node']} (≤ {cpu['cameras_per_worker']} cameras each: a "
        f"camera holds its process's GIL {cpu['gil_per_camera']:.1%} of the time)",
    )
    gpu = result["gpu"]
    if gpu is not None:
        table.add_row("GPUs", str(gpu["gpus"]))
        table.add_row(f"GPU nodes ({gpu['gpus_per_node']} GPUs)", str(gpu["gpu_nodes"]))
    table.add_row("models run on", cpu["models_on"])
    table.add_row("network ingress", f"{result['network']['ingress_gbps']:g} Gb/s")
    table.add_row("database writes", f"{result['database']['writes_per_s']:g} /s")
    gallery = result["gallery"]
    table.add_row(
        "gallery memory",
        f"{gallery['per_replica_mb']:g} MB × {gallery['replicas']} replicas",
    )
    table.add_row("memory per CPU node", f"{result['memory_per_cpu_node_gb']:g} GB")
    loss = result["node_loss"]
    table.add_row("a lost CPU node moves", f"{loss['cameras_moved']} cameras")
    console.print(table)


def mount(app: typer.Typer) -> None:
    """Add ``cluster`` and ``plan`` to the ``watchkeeper`` command."""
    app.add_typer(cluster_app, name="cluster")
    app.command("plan")(plan_command)
