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
import shutil
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


def _run_child(library_path: Path | None = None) -> dict[str, Any]:
    if not (GPU_BUILD / "onnxruntime").is_dir():
        pytest.skip(f"onnxruntime-gpu is not installed in {GPU_BUILD}: `make test` puts it there")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(GPU_BUILD), str(REPO / "src")])}
    if library_path is not None:
        env["LD_LIBRARY_PATH"] = str(library_path)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["stdout"], report["stderr"] = done.stdout, done.stderr
    return report


@pytest.fixture(scope="module")
def gpu_build() -> dict[str, Any]:
    return _run_child()


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


def test_without_the_driver_the_missing_gpu_is_named(tmp_path: Path) -> None:
    """CUDA's libraries installed but no NVIDIA driver: a GPU image on a CPU node, or a
    container started without its GPU. Stand-ins for the toolkit libraries (empty shared
    objects with their names) let the dynamic loader get as far as the driver's."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build stand-ins for the CUDA libraries")
    if Path("/dev/nvidiactl").exists():
        pytest.skip("this machine has an NVIDIA driver")
    for name in ("libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudart.so.13"):
        subprocess.run(
            [compiler, "-x", "c", "-shared", "-fPIC", f"-Wl,-soname,{name}", "-o", name, "-"],
            input=b"", cwd=tmp_path, check=True,
        )  # fmt: skip

    report = _run_child(tmp_path)

    assert report["chosen"] == ["CPUExecutionProvider"]
    assert "libcuda.so.1" in report["stderr"]
    assert "the NVIDIA driver is not here" in report["stderr"]
