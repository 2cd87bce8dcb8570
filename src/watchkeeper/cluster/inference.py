"""Inference actors, and the client that camera workers call them through.

An :class:`InferenceHost` runs the face models once for many cameras: one process per
inference node, on the GPU where the node has one (ONNX Runtime picks the TensorRT or CUDA
provider from ``vision.providers``), on its cores otherwise. It is a threaded actor: the
calls of many camera threads run at once, detection on the caller's thread and embedding
gathered into batches by the same :class:`~watchkeeper.service.InferenceBatcher` that the
single-machine service uses.

Camera pipelines do not know any of this: :class:`RemoteInference` implements the same
``Inference`` interface (``model``, ``analyse``, ``embed``) over the actors. It prefers the
actors of its own node (frames then travel through shared memory, not the network), spreads
its calls over them (a node with several GPUs runs an actor on each), and when an actor is
lost it goes on with the others while Ray restarts it.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from watchkeeper.config import VisionConfig
from watchkeeper.domain import Faces, FloatArray, ImageArray
from watchkeeper.service.batcher import InferenceBatcher
from watchkeeper.vision import AnalysedFaces, FaceAnalyzer

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30.0  # one detection or embedding, queueing included
GIVE_UP_S = 120.0  # no inference actor answered for this long: the camera fails
RESTING_S = 5.0  # an actor that failed a call is not tried again before this
_LOST = (RayActorError, GetTimeoutError)


class InferenceUnavailable(RuntimeError):
    """No inference actor answered; the camera stops and shows this as its reason."""


class InferenceHost:
    """The models of one inference node, shared by the cameras of many workers."""

    def __init__(self, vision: VisionConfig, max_batch: int, max_wait_ms: float) -> None:
        self.analyzer = FaceAnalyzer.from_config(vision)
        self.batcher = InferenceBatcher(self.analyzer, max_batch, max_wait_ms, self._observe)
        self.batcher.start()
        self.frames = 0
        self.faces = 0
        self.busy_s = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.analyzer.model,
            "dimension": int(self.analyzer.embedder.dimension),
            "runtime": self.analyzer.runtime,
            "node_id": ray.get_runtime_context().get_node_id(),
            "gpu_ids": [str(gpu) for gpu in ray.get_gpu_ids()],  # Ray's assignment
            "pid": os.getpid(),
        }

    def analyse(self, image: ImageArray) -> AnalysedFaces:
        return self.batcher.analyse(image)

    def detect(self, image: ImageArray) -> Faces:
        return self.batcher.detect(image)

    def embed(self, aligned: np.ndarray) -> FloatArray:
        return self.batcher.embed(aligned)

    def stats(self) -> dict[str, Any]:
        return {
            # what the models run on, as the sessions report it: on a GPU node, whether the
            # GPU is used or was dropped at start (decision 0045)
            "runtime": self.analyzer.runtime,
            "frames": self.frames,
            "faces": self.faces,
            "batches": self.batcher.batches,
            "busy_s": round(self.busy_s, 3),
        }

    def _observe(self, stage: str, seconds: float, items: int) -> None:
        self.busy_s += seconds
        if stage == "detect":
            self.frames += items
        else:
            self.faces += items


class RemoteInference:
    """The ``Inference`` interface over inference actors, spread over the nearest of them.

    The nearest are those of the caller's own node (a frame then travels through shared
    memory), else every actor. Among them each call goes to the actor with the fewest of this
    client's calls in flight, ties taken in turn, so that the actors of a node with several
    GPUs (one actor each) all work; clients start their turns at random, so that the workers
    of GPU-less camera nodes spread over the GPU nodes' actors instead of all calling the first.
    """

    def __init__(
        self, actors: list[Any], model: str, dimension: int, node_id: str | None = None
    ) -> None:
        if not actors:
            raise InferenceUnavailable("no inference actors were started")
        self._model = model
        self.dimension = dimension
        self.actors = actors
        self._distance = self._distances(actors, node_id)
        self._in_flight = [0] * len(actors)
        self._resting_until = [0.0] * len(actors)
        self._turn = random.randrange(len(actors))
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._model

    def analyse(self, image: ImageArray) -> AnalysedFaces:
        result: AnalysedFaces = self._call("analyse", image)
        return result

    def detect(self, image: ImageArray) -> Faces:
        result: Faces = self._call("detect", image)
        return result

    def embed(self, aligned: np.ndarray) -> FloatArray:
        if len(aligned) == 0:
            return np.zeros((0, self.dimension), np.float32)
        result: FloatArray = self._call("embed", aligned)
        return result

    def _call(self, method: str, argument: np.ndarray) -> Any:
        ref = ray.put(argument)  # once, however many actors are tried
        deadline = time.monotonic() + GIVE_UP_S
        while True:
            tried: set[int] = set()
            while (index := self._take(tried)) is not None:
                tried.add(index)
                try:
                    actor = self.actors[index]
                    return ray.get(getattr(actor, method).remote(ref), timeout=CALL_TIMEOUT_S)
                except _LOST as exc:
                    log.warning("inference actor %d failed (%s); trying another", index, exc)
                    with self._lock:
                        self._resting_until[index] = time.monotonic() + RESTING_S
                finally:
                    with self._lock:
                        self._in_flight[index] -= 1
            if time.monotonic() > deadline:
                raise InferenceUnavailable(
                    f"no inference actor answered for {GIVE_UP_S:g} s (are the inference "
                    "nodes up? see watchkeeper cluster status)"
                )
            time.sleep(0.5)

    def _take(self, tried: set[int]) -> int | None:
        """The actor for the next attempt, counted in flight; None when none is left to try."""
        with self._lock:
            now = time.monotonic()
            ready = [
                i
                for i in range(len(self.actors))
                if i not in tried and self._resting_until[i] <= now
            ]
            if not ready:
                return None
            best = min((self._distance[i], self._in_flight[i]) for i in ready)
            equals = [i for i in ready if (self._distance[i], self._in_flight[i]) == best]
            self._turn += 1
            index = equals[self._turn % len(equals)]
            self._in_flight[index] += 1
            return index

    @staticmethod
    def _distances(actors: list[Any], node_id: str | None) -> list[int]:
        """0 for an actor on ``node_id``, 1 on another node, 2 if it did not answer."""
        distances = []
        for actor in actors:
            try:
                node = ray.get(actor.describe.remote(), timeout=5)["node_id"]
                distances.append(0 if node == node_id else 1)
            except _LOST:
                distances.append(2)
        return distances
