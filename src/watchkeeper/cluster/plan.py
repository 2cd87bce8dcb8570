"""The capacity plan: how many nodes, how much network and database a deployment needs.

Pure arithmetic on measured costs, so that every number in docs/scaling.md can be traced to
an input. Per camera and second:

- **decode**: a live stream is decoded at its *source* rate, not the analysis rate (the
  decoder cannot skip the frames that others depend on, and a camera's stream has no other
  kind: no B-frames): ``source_fps × decode_ms``, measured on the clip re-encoded as a
  camera sends it;
- **detect**: ``analysis_fps × detect_ms`` (at ``vision.detection_max_side``);
- **embed**: faces are embedded per *track*, not per frame (pipeline/camera.py), so
  ``analysis_fps × faces_per_frame × embed_ratio × embed_ms``, where ``embed_ratio`` is
  embeddings per detected face, measured on the clip.

That is a **crowd scene**: people in every frame. With motion gating (pipeline/motion.py) a
**quiet scene** (nobody, nothing moving) costs ``quiet_decode_share`` of the stream's
decoding (a still camera decodes its key frames only: ``motion.sleep_after_s``) plus
``analysis_fps × quiet_ms``: the motion mask, and a whole-frame detection every
``motion.refresh_s`` where the light has changed since the last one (none on a perfectly
still picture). Both come from the same still scene measured awake and resting, and the
share is applied to the crowd's decoding cost per frame. Real cameras are a
mix; ``busy_share`` is the share of camera-hours that look like the crowd, and the cores per
camera are ``busy_share × crowd + (1 − busy_share) × quiet``.

CPU nodes decode (always: that is where the streams arrive) and, without GPUs, run the
models too. With GPUs, detection and embedding run on GPU nodes at ``gpu_fps`` analysed
frames per second per GPU (faces included). Nodes are sized to ``target_utilisation`` of
their cores, and ``spare_nodes`` extra CPU nodes take the cameras of lost ones (N+k).

Cores are not a node's only limit. A camera worker is one process whose cameras are
threads; between their calls into FFmpeg, OpenCV and the engines, which release the GIL,
each holds the GIL, for ``gil_share`` of its CPU time (``bench/streams.py --gil``). A
process's GIL is kept to ``target_utilisation`` as the cores are, which bounds the cameras
one worker carries and so sets the **camera workers per node** (Ray's ``camera_node``
units), each with its own models and gallery replica.

Costs come from :data:`MEASURED` (this repository's benchmarks on the 2-core development
machine, one core each) or from a JSON file: either flat keys named like :class:`Costs`'s
fields, or the output of ``bench/pipeline.py --json``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from watchkeeper.config import ClusterConfig, MatchingConfig
from watchkeeper.matching.gallery import ivf_list_count

BYTES_PER_MB = 1024 * 1024
# bench/pipeline.py's rows for the clip re-encoded as a camera streams it (no B-frames)
CAMERA_STREAM = "as a camera sends it"


@dataclass(frozen=True, slots=True)
class Costs:
    """What one stream costs, in milliseconds of one CPU core (and what a GPU does)."""

    decode_ms: float = 4.7  # per 1080p source frame (H.264, one decoder thread)
    detect_ms: float = 40.0  # per analysed frame, YuNet at 1280 px
    embed_ms: float = 34.0  # per face, SFace, batch 1
    # embeddings per detected face of a live camera, early matching included (the crowd clip at
    # 5 fps: 42 of 159; matching at close only, as a recording's scan does, 25 of 155)
    embed_ratio: float = 0.26
    track_ms: float = 1.0  # tracking, alignment, quality, matching per analysed frame
    quiet_ms: float = 1.6  # per analysed frame of a still scene, beyond decoding (gated)
    quiet_decode_share: float = 0.24  # of the stream's decoding, resting on key frames
    quiet_detect_share: float = 0.02  # whole-frame detections per analysed frame, still scene
    # GIL-held seconds per CPU second of camera work in one process, below CPU saturation
    # (bench/streams.py --gil on the AMD EPYC "Zen 5": 0.065-0.083 crowd streams, 0.078-0.080 quiet)
    gil_share: float = ClusterConfig.model_fields["gil_share"].default
    gpu_fps: float | None = None  # analysed frames/s one GPU sustains (detect + embed)
    source: str = "defaults measured on the 2-core development machine (docs/scaling.md)"

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> Costs:
        """From flat keys, or from ``bench/pipeline.py --json`` output."""
        if {"detector", "embedder", "end_to_end", "still_scene"} & set(data):
            return cls._from_bench(data, source)
        known = {f.name for f in fields(cls)} - {"source"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(
                f"unknown cost keys {', '.join(sorted(unknown))}; use {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {k: None if v is None else float(v) for k, v in data.items()}
        return replace(cls(), **values, source=source)

    @classmethod
    def _from_bench(cls, data: dict[str, Any], source: str) -> Costs:
        costs = cls(source=source)
        detector = [
            r for r in data.get("detector", []) if r.get("threads") == 1 and r.get("max_side")
        ]
        full_hd = [r for r in detector if r.get("resolution") == "1920x1080"]
        if full_hd:
            row = min(full_hd, key=lambda r: r["max_side"])
            costs = replace(costs, detect_ms=float(row["ms_per_frame"]))
        embedder = [r for r in data.get("embedder", []) if r.get("threads") == 1]
        if embedder:
            row = min(embedder, key=lambda r: r["batch"])
            costs = replace(costs, embed_ms=float(row["ms_per_face"]))
        runs = [r for r in data.get("end_to_end", []) if r.get("faces")]
        if runs:
            row = _nearest_five_fps([r for r in runs if r.get("video") != CAMERA_STREAM] or runs)
            costs = replace(costs, embed_ratio=row["embedded"] / row["faces"])
            # decoding as a camera streams (every frame referenced), where it was measured:
            # the recorded clip's unreferenced frames are skipped, which a camera's are not
            row = _nearest_five_fps([r for r in runs if r.get("video") == CAMERA_STREAM] or runs)
            if row.get("decode_cpu_s") and row.get("source_frames"):
                decode_ms = 1000 * row["decode_cpu_s"] / row["source_frames"]
                costs = replace(costs, decode_ms=round(decode_ms, 3))
        empty = [r for r in data.get("still_scene", []) if r.get("scene") == "empty"]
        if empty:
            row = empty[0]
            costs = replace(
                costs,
                quiet_ms=max(0.0, float(row["quiet_ms"])),
                quiet_detect_share=row["whole_frames_detected"] / row["analysed_frames"],
            )
            if "resting_decode_share" in row:  # measured resting on key frames
                costs = replace(
                    costs,
                    quiet_ms=max(0.0, float(row["resting_quiet_ms"])),
                    quiet_decode_share=float(row["resting_decode_share"]),
                )
        return costs


MEASURED = Costs()


def _nearest_five_fps(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return min(rows, key=lambda r: abs(r["analysis_fps"] - 5))


@dataclass(frozen=True, slots=True)
class Deployment:
    """What is asked of the deployment, and the machines it is built from."""

    cameras: int
    analysis_fps: float = 5.0
    source_fps: float = 25.0
    faces_per_frame: float = 2.0
    bitrate_mbps: float = 4.0  # per 1080p25 H.264 stream
    cores_per_node: int = 32
    gpus_per_node: int = 4
    target_utilisation: float = 0.7
    spare_nodes: int = 1  # per kind of node: a lost node's cameras fit on the others
    matches_per_camera_hour: float = 0.5
    notification_targets: int = 1
    gallery_templates: int = 100_000
    embedding_dim: int = 128
    exact_search_limit: int = MatchingConfig.model_fields["exact_search_limit"].default
    counters_flush_s: float = 60.0
    busy_share: float = 1.0  # share of cameras (camera-hours) that see a crowd; the rest: quiet

    def check(self) -> None:
        if self.cameras < 1:
            raise ValueError("a deployment has at least one camera")
        if not 0 < self.analysis_fps <= self.source_fps:
            raise ValueError("the analysis rate must be above 0 and at most the source rate")
        if not 0 < self.target_utilisation <= 1:
            raise ValueError("the target utilisation is a fraction above 0 and at most 1")
        if not 0 <= self.busy_share <= 1:
            raise ValueError("the busy share is a fraction from 0 to 1")
        if self.cores_per_node < 1 or self.gpus_per_node < 1:
            raise ValueError("a node has at least one core (and a GPU node at least one GPU)")


# Rows one alert writes: sighting, match, audit record, alert, alert link; plus outbox rows.
ROWS_PER_ALERT = 5
# What each enrolled template costs a gallery replica beyond its float32 vector: its template,
# person and watchlist ids and its live flag, and above the exact-search limit the inverted
# file's one-byte-per-dimension code and list id (matching/gallery.py, decision 0041).
GALLERY_ROW_BYTES = 3 * 8 + 1
IVF_ROW_BYTES = 8  # plus one byte per dimension
FRAME_BUFFERS_MB_PER_CAMERA = 40  # decoder reference frames and queues of a 1080p stream
# A camera-worker process before its cameras and gallery: Python, the libraries and both
# models loaded and run once (measured: 144 MiB imported, 478 with the models, 542 after
# analysing the clip)
WORKER_MB = 540


def gallery_index_bytes(d: Deployment) -> int:
    """A gallery replica's bytes beyond the vectors themselves, as ``Gallery.memory_bytes``
    counts them: exact search up to ``exact_search_limit`` templates, the inverted file
    above (its lists each with a float32 centroid)."""
    rows = d.gallery_templates
    held = rows * GALLERY_ROW_BYTES
    if rows > d.exact_search_limit:
        centroids = ivf_list_count(rows) * d.embedding_dim * 4
        held += rows * (d.embedding_dim + IVF_ROW_BYTES) + centroids
    return held


def plan(d: Deployment, costs: Costs = MEASURED) -> dict[str, Any]:
    """The plan, as a JSON-ready dictionary (inputs, per-camera costs, totals, nodes)."""
    d.check()
    decode = d.source_fps * costs.decode_ms / 1000  # cores per camera
    detect = d.analysis_fps * costs.detect_ms / 1000
    embed = d.analysis_fps * d.faces_per_frame * costs.embed_ratio * costs.embed_ms / 1000
    track = d.analysis_fps * costs.track_ms / 1000
    on_gpu = costs.gpu_fps is not None
    crowd = decode + track + (0.0 if on_gpu else detect + embed)
    quiet_decode = decode * costs.quiet_decode_share
    quiet = quiet_decode + d.analysis_fps * costs.quiet_ms / 1000
    if on_gpu:  # the quiet scene's few whole-frame detections run on the GPUs
        quiet -= d.analysis_fps * costs.quiet_detect_share * costs.detect_ms / 1000
    quiet = max(quiet, quiet_decode)
    cpu_per_camera = d.busy_share * crowd + (1 - d.busy_share) * quiet
    usable_cores = d.cores_per_node * d.target_utilisation
    cameras_per_cpu_node = max(1, math.floor(usable_cores / cpu_per_camera))
    cpu_nodes = math.ceil(d.cameras / cameras_per_cpu_node) + d.spare_nodes
    if not 0 <= costs.gil_share <= 1:
        raise ValueError("gil_share is the GIL's share of a worker's CPU time: from 0 to 1")
    gil_per_camera = cpu_per_camera * costs.gil_share  # of one process's GIL
    cameras_per_worker = cameras_per_cpu_node
    if gil_per_camera > 0:
        gil_bound = max(1, math.floor(d.target_utilisation / gil_per_camera))
        cameras_per_worker = min(cameras_per_cpu_node, gil_bound)
    workers_per_node = math.ceil(cameras_per_cpu_node / cameras_per_worker)
    # frames the models see: every analysed frame of a crowd, a few of a quiet scene
    frames_per_s = (
        d.cameras * d.analysis_fps * (d.busy_share + (1 - d.busy_share) * costs.quiet_detect_share)
    )
    gpu: dict[str, Any] | None = None
    if costs.gpu_fps is not None:
        gpus = math.ceil(frames_per_s / (costs.gpu_fps * d.target_utilisation))
        gpu_nodes = math.ceil(gpus / d.gpus_per_node) + d.spare_nodes
        gpu = {
            "analysed_frames_per_s_per_gpu": costs.gpu_fps,
            "gpus": gpus,
            "gpu_nodes": gpu_nodes,
            "gpus_per_node": d.gpus_per_node,
        }
    ingress_gbps = d.cameras * d.bitrate_mbps / 1000
    alerts_per_s = d.cameras * d.matches_per_camera_hour / 3600
    rows_per_s = alerts_per_s * (ROWS_PER_ALERT + d.notification_targets)
    counter_rows_per_s = d.cameras / d.counters_flush_s
    vectors_mb = d.gallery_templates * d.embedding_dim * 4 / BYTES_PER_MB
    index_mb = gallery_index_bytes(d) / BYTES_PER_MB
    workers = cpu_nodes * workers_per_node  # each camera-worker process holds a gallery
    return {
        "inputs": {"deployment": asdict(d), "costs": asdict(costs)},
        "per_camera": {
            "decode_cores": round(decode, 4),
            "detect_cores": round(detect, 4),
            "embed_cores": round(embed, 4),
            "track_cores": round(track, 4),
            "cpu_cores": round(cpu_per_camera, 4),
            "crowd_cpu_cores": round(crowd, 4),
            "quiet_cpu_cores": round(quiet, 4),
            "quiet_decode_cores": round(quiet_decode, 4),
            "busy_share": d.busy_share,
            "embeddings_per_s": round(d.analysis_fps * d.faces_per_frame * costs.embed_ratio, 3),
        },
        "cpu": {
            "cores_needed": round(d.cameras * cpu_per_camera, 1),
            "cameras_per_node": cameras_per_cpu_node,
            "nodes": cpu_nodes,
            "cores_per_node": d.cores_per_node,
            "spare_nodes": d.spare_nodes,
            "models_on": "gpu" if on_gpu else "cpu",
            "gil_per_camera": round(gil_per_camera, 4),
            "cameras_per_worker": cameras_per_worker,
            "camera_workers_per_node": workers_per_node,
        },
        "gpu": gpu,
        "analysed_frames_per_s": round(frames_per_s, 1),
        "network": {
            "ingress_gbps": round(ingress_gbps, 2),
            "ingress_gbps_per_cpu_node": round(cameras_per_cpu_node * d.bitrate_mbps / 1000, 3),
        },
        "database": {
            "alerts_per_s": round(alerts_per_s, 3),
            "alert_rows_per_s": round(rows_per_s, 2),
            "counter_upserts_per_s": round(counter_rows_per_s, 1),
            "writes_per_s": round(rows_per_s + counter_rows_per_s, 1),
        },
        "gallery": {
            "templates": d.gallery_templates,
            "vectors_mb": round(vectors_mb, 1),
            "index_mb": round(index_mb, 1),
            "per_replica_mb": round(vectors_mb + index_mb, 1),
            "replicas": workers,
            "total_mb": round((vectors_mb + index_mb) * workers, 1),
        },
        "memory_per_cpu_node_gb": round(
            (
                cameras_per_cpu_node * FRAME_BUFFERS_MB_PER_CAMERA
                + workers_per_node * (WORKER_MB + vectors_mb + index_mb)
            )
            / 1024,
            1,
        ),
        "node_loss": {
            "cameras_moved": cameras_per_cpu_node,
            "share_of_cameras": round(cameras_per_cpu_node / d.cameras, 4),
        },
    }
