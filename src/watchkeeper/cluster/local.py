"""A Ray cluster of several nodes on this machine: for tests, benchmarks and trying it out.

Each node is its own ``ray start --block`` process, started in a process group of its own,
so that everything the node runs (its raylet, object store, agents and the worker processes
of its actors) can be killed at once with SIGKILL, as a power cut would: that is how the
tests lose a node. Every node gets its own ports and the cluster its own short temporary
folder (Unix socket paths must stay under 108 bytes), so that several clusters and an
installation's own Ray can live on one machine.

Local only: no dashboard, no usage statistics, and Ray's token authentication off (all
nodes are this machine's own processes). GCS health checks are made faster (1 s period,
3 failures), so that the loss of a node is noticed in seconds rather than in half a minute.

    with LocalCluster() as cluster:
        cluster.start_head()
        cluster.add_node("cam-a", {"camera_node": 1, "inference_node": 1})
        ... ray.init(address=cluster.address) ...
        cluster.kill("cam-a")
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

LOCAL_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_health_check_initial_delay_ms": "1000",
}
START_TIMEOUT_S = 90.0


class LocalClusterError(RuntimeError):
    """A node of the local cluster did not start or join."""


@dataclass(slots=True)
class LocalNode:
    name: str
    process: subprocess.Popen[bytes]
    resources: dict[str, float]
    log: Path
    node_manager_port: int  # how Ray's node table tells the nodes of one host apart

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalCluster:
    """Head and worker nodes as separate process groups on 127.0.0.1."""

    def __init__(self, num_cpus: int = 1, object_store_mb: int = 80) -> None:
        self.num_cpus = num_cpus
        self.object_store_mb = object_store_mb
        self.temp_dir = Path(tempfile.mkdtemp(prefix="wkray-", dir="/tmp"))
        self.port = free_port()
        self.nodes: dict[str, LocalNode] = {}
        self.ray = Path(sys.executable).with_name("ray")
        if not self.ray.is_file():
            raise LocalClusterError(f"{self.ray} not found: install the [cluster] extra")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @staticmethod
    def environment() -> dict[str, str]:
        """What a driver joining this cluster needs in its environment too."""
        return dict(LOCAL_ENV)

    def start_head(self, resources: dict[str, float] | None = None, gpus: int = 0) -> LocalNode:
        return self._start("head", resources or {}, gpus, ["--head", f"--port={self.port}"])

    def add_node(self, name: str, resources: dict[str, float], gpus: int = 0) -> LocalNode:
        """A node offering ``resources``; ``gpus`` is what Ray counts, whether or not the
        machine has them, so GPU actors can be placed on a machine without one."""
        if "head" not in self.nodes:
            raise LocalClusterError("start the head node first")
        return self._start(name, resources, gpus, [f"--address={self.address}"])

    def kill(self, name: str) -> None:
        """SIGKILL every process of the node at once: its process group, and the worker
        processes of its actors, which Ray starts in process groups of their own."""
        node = self.nodes[name]
        pids = _descendants(node.process.pid)
        _kill_group(node.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node.process.wait(10)

    def processes(self) -> list[int]:
        """Every process of every node (for measuring what the cluster costs)."""
        pids = []
        for node in self.nodes.values():
            if node.alive:
                pids += [node.process.pid, *_descendants(node.process.pid)]
        return pids

    def node_named(self, node_id: str) -> str | None:
        """The name of the node that Ray knows by ``node_id`` (None: not one of ours)."""
        import ray  # only when asked: starting nodes needs the ray command, not the module

        ports = {n.node_manager_port: n.name for n in self.nodes.values()}
        for node in ray.nodes():
            if node["NodeID"] == node_id:
                return ports.get(int(node["NodeManagerPort"]))
        return None

    def stop(self) -> None:
        for name in reversed(list(self.nodes)):
            node = self.nodes[name]
            if node.alive:
                try:
                    os.killpg(node.process.pid, signal.SIGTERM)
                    node.process.wait(15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    self.kill(name)
            for pid in _descendants(node.process.pid):  # what SIGTERM left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _kill_group(node.process.pid)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start(
        self, name: str, resources: dict[str, float], gpus: int, role: list[str]
    ) -> LocalNode:
        ports = [free_port() for _ in range(6)]
        args = [
            str(self.ray), "start", *role, "--block", "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.num_cpus}", f"--num-gpus={gpus}",
            f"--resources={json.dumps(resources)}",
            f"--object-store-memory={self.object_store_mb * 1024 * 1024}",
            f"--node-manager-port={ports[0]}", f"--object-manager-port={ports[1]}",
            f"--metrics-export-port={ports[2]}", f"--runtime-env-agent-port={ports[3]}",
            f"--dashboard-agent-listen-port={ports[4]}", f"--dashboard-agent-grpc-port={ports[5]}",
            "--disable-usage-stats",
        ]  # fmt: skip
        if name == "head":
            args += ["--include-dashboard=false", f"--temp-dir={self.temp_dir}"]
        log = self.temp_dir / f"{name}.log"
        env = {**os.environ, **LOCAL_ENV}
        with log.open("wb") as out:
            process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip
        node = LocalNode(name, process, resources, log, ports[0])
        self.nodes[name] = node
        self._wait_started(node)
        return node

    def _wait_started(self, node: LocalNode) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not node.alive:
                raise LocalClusterError(
                    f"ray node {node.name} exited: {node.log.read_text(errors='replace')[-2000:]}"
                )
            if "Ray runtime started" in node.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise LocalClusterError(f"ray node {node.name} did not start in {START_TIMEOUT_S:g} s")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (from /proc), children before they can be re-parented."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
