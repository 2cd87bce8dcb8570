"""Camera workers' inference calls spread over the inference actors of a real Ray cluster.

A head node with one inference actor and a node with two, each node offering Ray one GPU
and each actor asking for half of one (``cluster.inference_gpus`` 0.5: two actors share a
GPU; the models run on the cores here, the GPUs being Ray's count only). Each client is a
camera worker's :class:`RemoteInference`, placed by the node id it says it runs on; what each
actor analysed is read from its own counters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import pytest

ray = pytest.importorskip("ray", reason="the [cluster] extra (Ray) is not installed")

from watchkeeper.cluster.inference import RemoteInference  # noqa: E402
from watchkeeper.cluster.local import LocalCluster  # noqa: E402
from watchkeeper.cluster.runtime import connect, start_inference_actors  # noqa: E402
from watchkeeper.config import Settings  # noqa: E402
from watchkeeper.demo import EXAMPLES  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

GPU_NODE = "gpu-node"  # two actors on its one GPU


@dataclass
class Actors:
    by_node: dict[str, list[Any]]  # node name -> its inference actors
    node_ids: dict[str, str]  # node name -> Ray node id
    model: str
    dimension: int

    @property
    def every(self) -> list[Any]:
        return [actor for actors in self.by_node.values() for actor in actors]

    def client(self, node: str | None) -> RemoteInference:
        """The inference of a camera worker on ``node`` (None: a node without actors)."""
        node_id = self.node_ids[node] if node else "a-node-without-inference-actors"
        return RemoteInference(self.every, self.model, self.dimension, node_id)


@pytest.fixture(scope="module")
def actors() -> Iterator[Actors]:
    cluster = LocalCluster(num_cpus=1, object_store_mb=80)
    saved_env = dict(os.environ)
    os.environ.update(cluster.environment())
    try:
        cluster.start_head({"inference_node": 1}, gpus=1)
        cluster.add_node(GPU_NODE, {"inference_node": 2}, gpus=1)
        connect(cluster.address, "inference-test", log_to_driver=False)
        settings = Settings(vision={"detection_max_side": 320}, cluster={"inference_gpus": 0.5})
        started = list(start_inference_actors(settings).values())
        described = ray.get([actor.describe.remote() for actor in started], timeout=180)
        by_node: dict[str, list[Any]] = {}
        node_ids: dict[str, str] = {}
        for actor, description in zip(started, described, strict=True):
            node = cluster.node_named(description["node_id"])
            assert node is not None
            by_node.setdefault(node, []).append(actor)
            node_ids[node] = description["node_id"]
        assert sorted(len(a) for a in by_node.values()) == [1, 2]
        assert all(description["gpu_ids"] == ["0"] for description in described)
        yield Actors(by_node, node_ids, described[0]["model"], described[0]["dimension"])
    finally:
        ray.shutdown()
        cluster.stop()
        os.environ.clear()
        os.environ.update(saved_env)


@pytest.fixture(scope="module")
def face_picture():
    picture = cv2.imread(str(EXAMPLES / "deepface-pairs" / "img1.jpg"))
    assert picture is not None
    return picture


def _frames(actors: list[Any]) -> list[int]:
    return [stats["frames"] for stats in ray.get([a.stats.remote() for a in actors], timeout=30)]


def _analysed_by(actors: Actors, client: RemoteInference, picture, calls: int) -> list[int]:
    """Frames each actor (in the order of ``actors.every``) analysed for ``calls`` calls."""
    before = _frames(actors.every)
    for _ in range(calls):
        assert len(client.analyse(picture).faces) >= 1
    return [after - was for after, was in zip(_frames(actors.every), before, strict=True)]


def test_a_worker_on_a_node_with_two_actors_uses_both_and_no_other(actors, face_picture):
    # before, every call went to the node's first actor: of a node's GPUs, or of the actors
    # sharing one, only the first worked
    analysed = _analysed_by(actors, actors.client(GPU_NODE), face_picture, 8)
    on_node = [actors.every.index(actor) for actor in actors.by_node[GPU_NODE]]
    assert [analysed[i] for i in on_node] == [4, 4]
    assert sum(analysed) == 8  # none crossed to the head's actor


def test_a_worker_on_a_node_with_one_actor_keeps_its_frames_on_the_node(actors, face_picture):
    analysed = _analysed_by(actors, actors.client("head"), face_picture, 6)
    head = actors.every.index(actors.by_node["head"][0])
    assert analysed[head] == 6


def test_workers_without_an_actor_of_their_own_spread_over_every_node(actors, face_picture):
    # a camera node without a GPU: its workers call the GPU nodes' actors, which all work
    analysed = _analysed_by(actors, actors.client(None), face_picture, 9)
    assert analysed == [3, 3, 3]
    # many workers' clients start their turns apart rather than all on the first actor
    firsts = set()
    for _ in range(12):
        firsts.add(_analysed_by(actors, actors.client(None), face_picture, 1).index(1))
    assert len(firsts) >= 2


def test_concurrent_calls_go_to_the_actor_with_the_fewest_in_flight(actors, face_picture):
    client = actors.client(GPU_NODE)
    before = _frames(actors.every)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: client.analyse(face_picture), range(16)))
    assert all(len(result.faces) >= 1 for result in results)
    analysed = [after - was for after, was in zip(_frames(actors.every), before, strict=True)]
    on_node = [analysed[actors.every.index(actor)] for actor in actors.by_node[GPU_NODE]]
    assert sum(on_node) == 16 and min(on_node) >= 4


def test_a_lost_actor_is_passed_over_and_its_node_mate_carries_on(actors, face_picture):
    client = actors.client(GPU_NODE)
    lost, mate = actors.by_node[GPU_NODE]
    ray.kill(lost, no_restart=True)
    before = _frames([mate])[0]
    for _ in range(4):
        assert len(client.analyse(face_picture).faces) >= 1
    assert _frames([mate])[0] - before == 4
