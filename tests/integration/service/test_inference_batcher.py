"""The inference batcher: requests from many camera threads, fewer model calls, same answers."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from watchkeeper.demo import CLIP, read_frame
from watchkeeper.service import InferenceBatcher
from watchkeeper.service.batcher import BatcherStopped
from watchkeeper.vision import FaceAnalyzer


@pytest.fixture(scope="module")
def faces(analyzer: FaceAnalyzer) -> np.ndarray:
    aligned = analyzer.analyse(read_frame(CLIP, 5)).aligned
    assert len(aligned) >= 6
    return aligned[:6]


def test_requests_from_many_threads_are_batched_and_each_gets_its_own_vectors(analyzer, faces):
    calls: list[tuple[str, int]] = []
    batcher = InferenceBatcher(
        analyzer, max_batch=32, max_wait_ms=200, observe=lambda s, _t, n: calls.append((s, n))
    )
    batcher.start()
    results: dict[int, np.ndarray] = {}
    start = threading.Barrier(6)

    def camera(index: int) -> None:
        start.wait()
        results[index] = batcher.embed(faces[index : index + 1])

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    batcher.stop()
    expected = analyzer.embed(faces)
    for index in range(6):
        np.testing.assert_allclose(results[index][0], expected[index], atol=1e-4)
    assert batcher.batched_faces == 6
    assert batcher.batches < 6  # gathered, not one call per request
    assert [s for s, _ in calls] == ["embed"] * batcher.batches


def test_a_full_batch_does_not_wait_for_the_timeout(analyzer, faces):
    batcher = InferenceBatcher(analyzer, max_batch=4, max_wait_ms=10_000)
    batcher.start()
    started = time.monotonic()
    vectors = batcher.embed(faces[:4])  # fills the batch at once: no 10 s wait
    elapsed = time.monotonic() - started
    batcher.stop()
    assert vectors.shape == (4, analyzer.embedder.dimension)
    assert elapsed < 5


def test_embedding_needs_a_running_batcher_but_nothing_to_embed_needs_nothing(analyzer, faces):
    batcher = InferenceBatcher(analyzer)
    assert batcher.embed(faces[:0]).shape == (0, analyzer.embedder.dimension)
    with pytest.raises(BatcherStopped, match="start"):
        batcher.embed(faces[:1])


def test_detection_alone_finds_what_analysis_finds_and_is_counted_as_detection(analyzer):
    calls: list[tuple[str, int]] = []
    batcher = InferenceBatcher(analyzer, observe=lambda s, _t, n: calls.append((s, n)))
    frame = read_frame(CLIP, 5)
    found = batcher.detect(frame)  # what the motion gate asks for its canvas of regions
    analysed = batcher.analyse(frame)
    np.testing.assert_allclose(found.boxes, analysed.faces.boxes)
    assert len(found) >= 6
    assert calls == [("detect", 1), ("detect", 1)]  # the camera's frame count sees both
