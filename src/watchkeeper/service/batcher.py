"""Inference for many cameras through one small interface, with embeddings batched.

Camera pipelines call :class:`Inference` (the interface of ``vision.FaceAnalyzer``:
``analyse`` a frame, ``embed`` aligned faces, the embedder's ``model`` name). Here one
:class:`InferenceBatcher` implements it for every camera thread of the process; at city scale
a remote GPU actor implements the same three members (DESIGN.md, "Scale-out"), and the
pipelines do not change.

What is batched, and why: embedding requests (a few faces when a track closes) from all
cameras are gathered by one thread into one call, up to ``max_batch`` faces or ``max_wait_ms``
after the first request. On a GPU that turns many tiny calls into a few full ones; on a CPU
it still saves ~15 % per face (SFace: 37 ms for one face, 31 ms per face in fours, measured on
the 2-core development machine), at a latency cost of at most ``max_wait_ms``. Detection is
*not* batched: frames of different cameras differ in size, YuNet's CPU cost is linear in
pixels, and ONNX Runtime releases the GIL, so detecting on each camera's own thread already
uses every core.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from watchkeeper.domain import Faces, FloatArray, ImageArray
from watchkeeper.pipeline import DetectingAnalyzer
from watchkeeper.vision import AnalysedFaces, FaceAnalyzer

log = logging.getLogger(__name__)

# (stage "detect" or "embed", seconds, items in the call)
Observer = Callable[[str, float, int], None]

T = TypeVar("T")


# What a camera pipeline needs from the models: the pipeline's own protocol, with detection
# alone for the motion gate.
Inference = DetectingAnalyzer


class BatcherStopped(RuntimeError):
    """An embedding was asked of a batcher that is not running."""


@dataclass(slots=True)
class _Request:
    crops: np.ndarray
    result: Future[FloatArray] = field(default_factory=Future)


class InferenceBatcher:
    """Detects on the caller's thread; gathers embedding requests into batched calls."""

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        observe: Observer | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.observe = observe
        self.batches = 0
        self.batched_faces = 0
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._running = False

    @property
    def model(self) -> str:
        return self.analyzer.model

    @property
    def dimension(self) -> int:
        return int(self.analyzer.embedder.dimension)

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="inference-batcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the requests already queued, then stop (later ones fail at once)."""
        self._running = False
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def analyse(self, image: ImageArray) -> AnalysedFaces:
        return self._detecting(self.analyzer.analyse, image)

    def detect(self, image: ImageArray) -> Faces:
        return self._detecting(self.analyzer.detect, image)

    def _detecting(self, run: Callable[[ImageArray], T], image: ImageArray) -> T:
        """``run(image)`` on the caller's thread, observed as one frame's detection."""
        started = time.perf_counter()
        result = run(image)
        if self.observe is not None:
            self.observe("detect", time.perf_counter() - started, 1)
        return result

    def embed(self, aligned: np.ndarray) -> FloatArray:
        if len(aligned) == 0:
            return np.zeros((0, self.dimension), np.float32)
        if not self._running:
            raise BatcherStopped("the inference batcher is not running (start() it first)")
        request = _Request(np.asarray(aligned))
        self._queue.put(request)
        return request.result.result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._drain()
                return
            batch = [first]
            size = len(first.crops)
            deadline = time.monotonic() + self.max_wait_s
            stopping = False
            while size < self.max_batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    more = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if more is None:  # the stop signal
                    stopping = True
                    break
                batch.append(more)
                size += len(more.crops)
            self._embed(batch)
            if stopping:
                self._drain()
                return

    def _drain(self) -> None:
        """Serve what is still queued, so that no caller waits for ever."""
        leftover = []
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is not None:
                leftover.append(request)
        if leftover:
            self._embed(leftover)

    def _embed(self, batch: list[_Request]) -> None:
        crops = np.concatenate([r.crops for r in batch])
        started = time.perf_counter()
        try:
            vectors = self.analyzer.embed(crops)
        except Exception as exc:  # hand the error to every caller; the batcher goes on
            log.exception("embedding a batch of %d faces failed", len(crops))
            for request in batch:
                request.result.set_exception(exc)
            return
        if self.observe is not None:
            self.observe("embed", time.perf_counter() - started, len(crops))
        self.batches += 1
        self.batched_faces += len(crops)
        offset = 0
        for request in batch:
            request.result.set_result(vectors[offset : offset + len(request.crops)])
            offset += len(request.crops)
