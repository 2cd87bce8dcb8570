"""The capacity plan: every number follows from the measured costs, and can be traced back."""

import json
from dataclasses import replace

import numpy as np
import pytest

from watchkeeper.cluster.plan import (
    MEASURED,
    WORKER_MB,
    Costs,
    Deployment,
    gallery_index_bytes,
    plan,
)
from watchkeeper.matching import Gallery


def test_the_reference_city_on_cpus_needs_two_fifths_of_a_core_per_crowd_camera():
    result = plan(Deployment(cameras=7000, analysis_fps=5, faces_per_frame=2))
    per = result["per_camera"]
    # 25 decoded frames × 4.7 ms + 5 analysed × (40 ms + 1 ms) + 5 × 2 faces × 0.26 × 34 ms
    # (a live camera's embeddings, early matching included)
    assert per["decode_cores"] == pytest.approx(0.1175)
    assert per["detect_cores"] == pytest.approx(0.2)
    assert per["embed_cores"] == pytest.approx(0.0884)
    assert per["cpu_cores"] == pytest.approx(0.4109, abs=1e-4)
    cpu = result["cpu"]
    assert cpu["cameras_per_node"] == 54  # floor(32 × 0.7 / 0.4109)
    assert cpu["nodes"] == 130 + 1  # ceil(7000 / 54) and one spare
    assert result["gpu"] is None and cpu["models_on"] == "cpu"
    assert result["network"]["ingress_gbps"] == pytest.approx(28.0)
    assert result["node_loss"]["cameras_moved"] == 54


def test_with_gpus_the_cpu_nodes_only_decode_and_the_gpus_are_sized_by_frames_per_second():
    costs = Costs(gpu_fps=500)
    result = plan(Deployment(cameras=7000, analysis_fps=5), costs)
    assert result["cpu"]["models_on"] == "gpu"
    assert result["per_camera"]["cpu_cores"] == pytest.approx(0.1175 + 0.005)
    assert result["gpu"]["gpus"] == 100  # 35,000 frames/s at 70 % of 500 each
    assert result["gpu"]["gpu_nodes"] == 25 + 1
    assert result["cpu"]["nodes"] < plan(Deployment(cameras=7000))["cpu"]["nodes"]


def test_database_and_gallery_figures_scale_with_alerts_and_templates():
    small = plan(Deployment(cameras=100, matches_per_camera_hour=36, gallery_templates=1000))
    # 100 cameras × 36 alerts an hour = 1 alert/s, 5 rows + 1 outbox row each
    assert small["database"]["alerts_per_s"] == pytest.approx(1.0)
    assert small["database"]["alert_rows_per_s"] == pytest.approx(6.0)
    big = plan(Deployment(cameras=100, gallery_templates=1_000_000))
    assert big["gallery"]["vectors_mb"] == pytest.approx(488.3, abs=0.1)  # 1M × 128 × 4 B
    assert big["gallery"]["total_mb"] == pytest.approx(
        big["gallery"]["per_replica_mb"] * big["gallery"]["replicas"], rel=1e-3
    )


@pytest.mark.parametrize("templates", [2_000, 5_000], ids=["exact search", "inverted file"])
def test_gallery_memory_is_what_a_real_gallery_of_that_size_reports(templates):
    deployment = Deployment(cameras=1, gallery_templates=templates, exact_search_limit=3_000)
    vectors = np.random.default_rng(0).standard_normal((templates, 128)).astype(np.float32)
    gallery = Gallery("plan@1", 128, exact_limit=3_000)
    ids = np.arange(templates)
    gallery.rebuild(ids, ids // 5, ids % 3, vectors, model="plan@1", version=1)

    planned = templates * 128 * 4 + gallery_index_bytes(deployment)

    assert gallery.kind == ("exact" if templates <= 3_000 else "ivf")
    assert planned == gallery.memory_bytes


def test_costs_are_read_from_bench_pipeline_output(tmp_path):
    bench = {
        "detector": [
            {"resolution": "1920x1080", "max_side": 1920, "threads": 1, "ms_per_frame": 90.0},
            {"resolution": "1920x1080", "max_side": 1280, "threads": 1, "ms_per_frame": 41.5},
            {"resolution": "1920x1080", "max_side": 1280, "threads": 2, "ms_per_frame": 25.0},
        ],
        "embedder": [
            {"batch": 1, "threads": 1, "ms_per_face": 36.0},
            {"batch": 8, "threads": 1, "ms_per_face": 30.0},
        ],
        "end_to_end": [{"analysis_fps": 5.0, "faces": 200, "embedded": 30}],
    }
    costs = Costs.from_json(json.loads(json.dumps(bench)), "bench.json")
    assert (costs.detect_ms, costs.embed_ms, costs.embed_ratio) == (41.5, 36.0, 0.15)
    assert costs.decode_ms == MEASURED.decode_ms and costs.source == "bench.json"


def test_flat_cost_files_name_unknown_keys():
    assert Costs.from_json({"detect_ms": 12, "gpu_fps": 800}, "x").gpu_fps == 800.0
    with pytest.raises(ValueError, match="unknown cost keys detect_time"):
        Costs.from_json({"detect_time": 12}, "x")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cameras", 0, "at least one camera"),
        ("analysis_fps", 30.0, "at most the source rate"),
        ("target_utilisation", 1.5, "fraction"),
    ],
)
def test_impossible_deployments_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        plan(Deployment(**{"cameras": 10, field: value}))


def test_a_quiet_scene_costs_decoding_and_the_mix_sits_between_crowd_and_quiet():
    crowd = plan(Deployment(cameras=7000))["per_camera"]
    mixed = plan(Deployment(cameras=7000, busy_share=0.2))
    per = mixed["per_camera"]
    assert per["crowd_cpu_cores"] == pytest.approx(crowd["cpu_cores"])
    # 24 % of 25 decoded frames × 4.7 ms (key frames only while still) + 5 analysed frames
    # × 1.6 ms (mask and refresh)
    quiet = 0.24 * 0.1175 + 0.008
    assert per["quiet_cpu_cores"] == pytest.approx(quiet, abs=1e-4)
    assert per["cpu_cores"] == pytest.approx(0.2 * 0.4109 + 0.8 * quiet, abs=1e-4)
    assert mixed["cpu"]["nodes"] < plan(Deployment(cameras=7000))["cpu"]["nodes"]
    with pytest.raises(ValueError, match="busy share"):
        plan(Deployment(cameras=1, busy_share=1.5))


def test_quiet_cameras_send_the_gpus_only_their_refresh_frames():
    busy = plan(Deployment(cameras=1000), Costs(gpu_fps=500))["analysed_frames_per_s"]
    mixed = plan(Deployment(cameras=1000, busy_share=0.2), Costs(gpu_fps=500))
    assert mixed["analysed_frames_per_s"] == pytest.approx(busy * (0.2 + 0.8 * 0.02), rel=1e-3)


def test_decode_and_quiet_costs_are_read_from_bench_pipeline_output():
    bench = {
        "end_to_end": [
            {"analysis_fps": 5.0, "faces": 200, "embedded": 30, "decode_cpu_s": 0.3,
             "source_frames": 100.0},
        ],
        "still_scene": [
            {"scene": "people standing still", "quiet_ms": 12.0, "whole_frames_detected": 6,
             "analysed_frames": 300},
            {"scene": "empty", "quiet_ms": 1.2, "whole_frames_detected": 6,
             "analysed_frames": 300},
        ],
    }  # fmt: skip
    costs = Costs.from_json(bench, "bench.json")
    assert costs.decode_ms == pytest.approx(3.0)
    assert (costs.quiet_ms, costs.quiet_detect_share) == (1.2, 0.02)


def test_decoding_is_charged_as_a_camera_streams_and_faces_as_the_clip_was_recorded():
    # the recorded clip skips its unreferenced B-frames (53 of 105 decoded); a camera's
    # stream has none to skip, so its decoding is what a camera costs
    recorded = {
        "video": "as recorded",
        "analysis_fps": 5.0,
        "faces": 200,
        "embedded": 30,
        "decode_cpu_s": 0.3,
        "decoded_frames": 53,
        "source_frames": 100.0,
    }
    streamed = recorded | {
        "video": "as a camera sends it",
        "faces": 190,
        "embedded": 19,
        "decode_cpu_s": 0.45,
        "decoded_frames": 100,
    }
    at_25_fps = streamed | {"analysis_fps": 25.0, "decode_cpu_s": 0.9}

    costs = Costs.from_json({"end_to_end": [recorded, at_25_fps, streamed]}, "bench.json")

    assert costs.decode_ms == pytest.approx(4.5)
    assert costs.embed_ratio == pytest.approx(0.15)


def test_a_camera_resting_on_key_frames_is_charged_its_share_of_decoding():
    bench = {
        "still_scene": [
            {"scene": "empty", "quiet_ms": 1.2, "whole_frames_detected": 1,
             "analysed_frames": 300, "resting_decode_share": 0.25, "resting_quiet_ms": 0.4},
        ],
    }  # fmt: skip
    costs = Costs.from_json(bench, "bench.json")
    assert (costs.quiet_decode_share, costs.quiet_ms) == (0.25, 0.4)
    resting = plan(Deployment(cameras=7000, busy_share=0.0), costs)["per_camera"]
    awake = plan(Deployment(cameras=7000, busy_share=0.0), Costs(quiet_decode_share=1.0))
    awake = awake["per_camera"]
    # a quarter of 25 frames × 4.7 ms, and 5 analysed frames × 0.4 ms
    assert resting["quiet_decode_cores"] == pytest.approx(0.25 * 0.1175, abs=1e-4)
    assert resting["quiet_cpu_cores"] == pytest.approx(0.25 * 0.1175 + 0.002, abs=1e-4)
    assert awake["quiet_cpu_cores"] > 3 * resting["quiet_cpu_cores"]


def test_a_node_runs_as_many_camera_workers_as_its_cameras_need_gils():
    result = plan(Deployment(cameras=7000))
    cpu = result["cpu"]
    # a crowd camera's 0.4109 cores hold the GIL 8 % of the time: 3.3 % of one process's GIL;
    # held to 70 % like the cores, a worker carries 21 cameras and a node's 54 need three
    assert cpu["gil_per_camera"] == pytest.approx(0.0329, abs=1e-4)
    assert cpu["cameras_per_worker"] == 21
    assert cpu["camera_workers_per_node"] == 3
    assert result["gallery"]["replicas"] == 3 * cpu["nodes"]
    # quiet cameras hold it less each, but a node takes more of them
    quiet = plan(Deployment(cameras=7000, busy_share=0.0))["cpu"]
    assert quiet["cameras_per_node"] > cpu["cameras_per_node"]
    assert (
        quiet["cameras_per_worker"] * quiet["camera_workers_per_node"]
        >= (quiet["cameras_per_node"])
    )


def test_each_camera_worker_of_a_node_holds_its_models_and_a_gallery_replica():
    city = Deployment(cameras=7000, gallery_templates=1_000_000)
    one = plan(city, replace(MEASURED, gil_share=0.0))  # as if the GIL bound nothing
    three = plan(city)
    assert one["cpu"]["camera_workers_per_node"] == 1
    assert three["cpu"]["camera_workers_per_node"] == 3
    replica_mb = three["gallery"]["per_replica_mb"]
    assert three["memory_per_cpu_node_gb"] - one["memory_per_cpu_node_gb"] == pytest.approx(
        2 * (WORKER_MB + replica_mb) / 1024, abs=0.1
    )


def test_a_gil_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="gil_share"):
        plan(Deployment(cameras=10), replace(MEASURED, gil_share=1.5))
