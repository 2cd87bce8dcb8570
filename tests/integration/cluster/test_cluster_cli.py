"""``watchkeeper plan``, ``cluster status`` and ``serve --cluster`` from the command line:
numbers that follow from the inputs, and one clear line when the cluster or database is
out of reach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchkeeper.cli import app

pytestmark = pytest.mark.cluster


def watchkeeper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args], capture_output=True, text=True,
        timeout=120, env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def test_plan_for_the_reference_city_prints_nodes_network_database_and_gallery():
    result = CliRunner().invoke(
        app, ["plan", "--cameras", "7000", "--analysis-fps", "5", "--faces-per-frame", "2",
              "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["cpu"]["nodes"] == 131 and plan["cpu"]["cameras_per_node"] == 54
    assert plan["network"]["ingress_gbps"] == 28.0
    assert plan["inputs"]["costs"]["detect_ms"] == 40.0
    table = CliRunner().invoke(app, ["plan", "--cameras", "7000", "--gpu-throughput", "500"])
    assert table.exit_code == 0, table.output
    assert "GPU nodes" in table.output and "28 Gb/s" in table.output


def test_plan_reads_measured_costs_from_a_file_and_refuses_a_bad_one(tmp_path: Path):
    costs = tmp_path / "costs.json"
    costs.write_text(json.dumps({"detect_ms": 20, "decode_ms": 3}))
    result = CliRunner().invoke(app, ["plan", "--cameras", "100", "--costs", str(costs), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["per_camera"]["detect_cores"] == 0.1
    costs.write_text("{not json")
    done = watchkeeper("plan", "--cameras", "100", "--costs", str(costs))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot read costs from {costs}")


def test_cluster_status_at_an_unreachable_address_is_one_line_of_error():
    pytest.importorskip("ray")
    port = closed_port()
    done = watchkeeper("cluster", "status", "--address", f"127.0.0.1:{port}")
    assert done.returncode == 2
    refused = f"error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused\n"
    assert done.stderr == refused
    done = watchkeeper("cluster", "status", "--address", "http://head:6379")
    assert done.returncode == 2
    assert done.stderr.startswith("error: cluster address 'http://head:6379' is not 'auto'")


def test_serve_on_a_cluster_needs_a_database_every_node_can_reach(tmp_path: Path):
    pytest.importorskip("ray")
    data = str(tmp_path / "data")
    done = watchkeeper("--data-dir", data, "serve", "--log-level", "error", "--cluster", "auto")
    assert done.returncode == 2
    assert done.stderr.startswith("error: cluster mode needs a database that every node can")
    assert len(done.stderr.splitlines()) == 1
    unreachable = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/wk_{uuid.uuid4().hex}"
    done = watchkeeper(
        "--data-dir", data, "serve", "--log-level", "error", "--cluster", "auto",
        env={"WATCHKEEPER_DATABASE_URL": unreachable},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot open database postgresql+psycopg://postgres@")
    assert len(done.stderr.splitlines()) == 1
