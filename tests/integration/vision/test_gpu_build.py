"""The real onnxruntime-gpu build, on whatever machine the tests run on.

That build lists the CUDA and TensorRT providers whether or not a GPU and its libraries are
present, and a session asked for one it cannot start runs on the CPU, saying so only on
stderr. Watchkeeper must not take the listing at its word: what it reports as the engine
has to be what the models run on, and a provider that cannot run must be named with the
reason. It cannot share a virtual environment with the CPU build (both are the package
``onnxruntime``), so ``make test`` installs it into ``build/onnxruntime-gpu`` and these
tests run it in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.vision.runtime import is_x86

REPO = Path(__file__).resolve().parents[3]
GPU_BUILD = REPO / "build" / "onnxruntime-gpu"

CHILD = """
import json, logging
logging.basicConfig(level=logging.WARNING)
import onnxruntime as ort
from watchkeeper.config import VisionConfig
from watchkeeper.vision.factory import load_embedder
from watchkeeper.vision.runtime import select_runtime
from watchkeeper.vision.runtime_onnx import OnnxRuntime

forced = OnnxRuntime(["tensorrt", "cuda", "cpu"], 1, "f32")
embedder = load_embedder(VisionConfig(runtime="onnxruntime"))
print(json.dumps({
    "build": ort.get_device(),
    "listed": ort.get_available_providers(),
    "chosen": forced.providers,
    "described": forced.describe(),
    "ran_on": embedder.compiled.session.get_providers(),
    "auto": select_runtime(VisionConfig()).name,
}))
"""


@pytest.fixture(scope="module")
def gpu_build() -> dict[str, Any]:
    if not (GPU_BUILD / "onnxruntime").is_dir():
        pytest.skip(f"onnxruntime-gpu is not installed in {GPU_BUILD}: `make test` puts it there")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(GPU_BUILD), str(REPO / "src")])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["stdout"], report["stderr"] = done.stdout, done.stderr
    return report


def test_the_engine_reported_is_the_one_the_models_run_on(gpu_build: dict[str, Any]) -> None:
    assert gpu_build["build"] == "GPU"
    assert "CUDAExecutionProvider" in gpu_build["listed"]

    assert gpu_build["ran_on"] == gpu_build["chosen"]
    assert gpu_build["described"].count("ExecutionProvider") == len(gpu_build["chosen"])


def test_a_listed_provider_that_cannot_run_is_dropped_and_named(
    gpu_build: dict[str, Any],
) -> None:
    if "CUDAExecutionProvider" in gpu_build["chosen"]:
        pytest.skip("CUDA runs on this machine")

    assert gpu_build["chosen"] == ["CPUExecutionProvider"]
    stderr = gpu_build["stderr"]
    for provider in ("TensorrtExecutionProvider", "CUDAExecutionProvider"):
        assert f"ONNX Runtime lists {provider} but it cannot run on this machine" in stderr
    # ONNX Runtime's own retry notice, printed to stdout, does not leak from the probe
    assert "EP Error" not in gpu_build["stdout"]
    if is_x86():
        assert gpu_build["auto"] == "openvino"
