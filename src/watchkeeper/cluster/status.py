"""What ``watchkeeper cluster status`` shows: nodes, workers, their cameras, lag and restarts.

It runs in a process of its own (not the ``serve`` driver), so it asks the cluster itself:
the nodes from the GCS, each worker actor by its name for its report, and the GCS actor table
for where each actor runs and how often Ray restarted it. The public ``ray.util.state`` API
would need the dashboard, which camera and inference nodes need not run; the actor table is
read through ``ray._private.state`` (pinned Ray version, one function).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from watchkeeper.cluster.runtime import INFERENCE_PREFIX, WORKER_PREFIX
from watchkeeper.cluster.worker import WorkerReport

ASK_TIMEOUT_S = 5.0


def _actor_table() -> dict[str, dict[str, Any]]:
    """Name → the newest entry of the GCS actor table (state, node, restarts, pid)."""
    from ray._private import state  # the only internal API used: see the module docstring

    newest: dict[str, dict[str, Any]] = {}
    for entry in state.actors().values():
        name = entry.get("Name") or ""
        if not name.startswith((WORKER_PREFIX, INFERENCE_PREFIX)):
            continue
        current = newest.get(name)
        rank = (entry.get("State") != "DEAD", entry.get("StartTime") or 0)
        if current is None or rank > (
            current.get("State") != "DEAD",
            current.get("StartTime") or 0,
        ):
            newest[name] = entry
    return newest


def cluster_status(camera_resource: str, inference_resource: str) -> dict[str, Any]:
    """The whole picture, JSON-ready (the caller has joined the cluster)."""
    nodes = [
        {
            "node_id": node["NodeID"],
            "address": node.get("NodeManagerAddress"),
            "alive": bool(node.get("Alive")),
            "cpus": node.get("Resources", {}).get("CPU", 0.0),
            "gpus": node.get("Resources", {}).get("GPU", 0.0),
            "camera_slots": node.get("Resources", {}).get(camera_resource, 0.0),
            "inference_slots": node.get("Resources", {}).get(inference_resource, 0.0),
            "head": "node:__internal_head__" in node.get("Resources", {}),
        }
        for node in ray.nodes()
    ]
    table = _actor_table()
    names = sorted(set(ray.util.list_named_actors(all_namespaces=False)) & set(table))
    handles = {name: ray.get_actor(name) for name in names}
    asked: dict[str, Any] = {
        name: handle.report.remote() if name.startswith(WORKER_PREFIX) else handle.stats.remote()
        for name, handle in handles.items()
        if table[name].get("State") == "ALIVE"
    }
    answers: dict[str, Any] = {}
    for name, ref in asked.items():
        try:
            answers[name] = ray.get(ref, timeout=ASK_TIMEOUT_S)
        except (RayActorError, GetTimeoutError):
            answers[name] = None
    workers, inference = [], []
    for name in names:
        entry = table[name]
        row: dict[str, Any] = {
            "name": name,
            "state": entry.get("State"),
            "node_id": (entry.get("Address") or {}).get("NodeID"),
            "pid": entry.get("Pid"),
            "restarts": entry.get("NumRestarts", 0),
        }
        answer = answers.get(name)
        if name.startswith(WORKER_PREFIX):
            row |= _worker_figures(answer)
            workers.append(row)
        else:
            row["figures"] = answer
            inference.append(row)
    return {
        "nodes": nodes,
        "workers": workers,
        "inference": inference,
        "cameras": sum(len(w.get("cameras", [])) for w in workers),
    }


def _worker_figures(report: WorkerReport | None) -> dict[str, Any]:
    if report is None:
        return {"answered": False, "cameras": []}
    return {
        "answered": True,
        "utilisation": report.utilisation,
        "capacity": report.capacity,
        "gallery_version": report.gallery_version,
        "buffer": dataclasses.asdict(report.buffer) if report.buffer else None,
        "cameras": [
            {
                "id": s.camera_id,
                "name": s.name,
                "state": s.state,
                "fps_analysed": s.fps_analysed,
                "lag_s": s.lag_s,
                "alerts": s.alerts,
            }
            for s in report.cameras
        ],
    }
